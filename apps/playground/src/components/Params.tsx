import type { VideoTask } from '@wan-video/react-hooks';

/** The parameters a task was made with, the seed included. */
export function Params({ task }: { task: VideoTask }) {
  const { input } = task;
  return (
    <dl className="params" data-testid="result-params">
      <div>
        <dt>Size</dt>
        <dd>{`${input.width}×${input.height}`}</dd>
      </div>
      <div>
        <dt>Seed</dt>
        <dd className="mono">{input.seed}</dd>
      </div>
      <div>
        <dt>Steps</dt>
        <dd>{input.steps}</dd>
      </div>
      <div>
        <dt>Guidance scale</dt>
        <dd>{input.guidanceScale}</dd>
      </div>
      <div>
        <dt>Flow shift</dt>
        <dd>{input.flowShift}</dd>
      </div>
      <div>
        <dt>Model</dt>
        <dd className="mono">{input.modelName}</dd>
      </div>
      <div className="wide">
        <dt>Prompt</dt>
        <dd>{input.prompt}</dd>
      </div>
      {input.negativePrompt ? (
        <div className="wide">
          <dt>Negative prompt</dt>
          <dd>{input.negativePrompt}</dd>
        </div>
      ) : null}
      <div className="wide">
        <dt>LoRAs</dt>
        <dd>
          {input.loras.length === 0
            ? 'none'
            : input.loras.map((lora) => `${lora.path} × ${lora.scale}`).join(', ')}
        </dd>
      </div>
    </dl>
  );
}
