import { LIMITS, type VideoInput } from '@wan-video/core';
import {
  type FormEvent,
  type KeyboardEvent,
  type ReactNode,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import {
  codePoints,
  FIELD_CONTROL_IDS,
  FIELD_NAMES,
  type FieldKey,
  type FormState,
  newLoraRow,
  randomSeed,
  SIZE_OPTIONS,
  toNumber,
  validateForm,
} from '../lib/form.js';
import { loraLabel } from '../lib/labels.js';

interface GenerateFormProps {
  readonly form: FormState;
  readonly onChange: (update: (form: FormState) => FormState) => void;
  readonly isPending: boolean;
  readonly onGenerate: (input: VideoInput) => void;
}

const describedBy = (...ids: (string | false | undefined)[]): string | undefined =>
  ids.filter(Boolean).join(' ') || undefined;

function FieldError({
  field,
  messages,
}: {
  field: FieldKey;
  messages: readonly string[] | undefined;
}) {
  if (!messages || messages.length === 0) return null;
  return (
    <div className="field-error" id={`error-${field}`} data-testid={`error-${field}`}>
      {messages.map((message) => (
        <p key={message}>{message}</p>
      ))}
    </div>
  );
}

interface RangeFieldProps {
  readonly id: string;
  readonly field: 'steps' | 'guidanceScale' | 'flowShift';
  readonly label: string;
  readonly value: string;
  readonly limits: { readonly min: number; readonly max: number; readonly default: number };
  readonly step: number;
  readonly integer: boolean;
  readonly errors: readonly string[] | undefined;
  readonly onValue: (value: string) => void;
  readonly onTouch: () => void;
  readonly children?: ReactNode;
}

/** A slider and a number input bound to one value. The number input takes anything typed. */
function RangeField({
  id,
  field,
  label,
  value,
  limits,
  step,
  integer,
  errors,
  onValue,
  onTouch,
  children,
}: RangeFieldProps) {
  const number = toNumber(value);
  const sliderValue = Number.isFinite(number)
    ? Math.min(limits.max, Math.max(limits.min, number))
    : limits.default;
  const hintId = `${id}-hint`;
  const showError = errors !== undefined && errors.length > 0;
  return (
    <div className="field">
      <div className="field-head">
        <label htmlFor={id}>{label}</label>
        <span className="hint" id={hintId}>
          {`${limits.min}–${limits.max}, default ${limits.default}`}
        </span>
      </div>
      <div className="range-row">
        <input
          type="range"
          id={id}
          name={id}
          min={limits.min}
          max={limits.max}
          step={step}
          value={sliderValue}
          aria-describedby={hintId}
          onChange={(event) => {
            onValue(event.target.value);
            onTouch();
          }}
        />
        <input
          type="number"
          id={`${id}-value`}
          name={`${id}-value`}
          className="number-input"
          aria-label={`${label}, exact value`}
          inputMode={integer ? 'numeric' : 'decimal'}
          step={integer ? 1 : 'any'}
          min={limits.min}
          max={limits.max}
          value={value}
          aria-invalid={showError || undefined}
          aria-describedby={describedBy(hintId, showError && `error-${field}`)}
          onChange={(event) => {
            onValue(event.target.value);
            onTouch();
          }}
          onBlur={onTouch}
        />
      </div>
      {children}
      <FieldError field={field} messages={errors} />
    </div>
  );
}

export function GenerateForm({ form, onChange, isPending, onGenerate }: GenerateFormProps) {
  const validation = useMemo(() => validateForm(form), [form]);
  const [touched, setTouched] = useState<ReadonlySet<FieldKey>>(() => new Set());
  const [submitAttempted, setSubmitAttempted] = useState(false);
  // The negative prompt opens on demand (and stays open while it has text), keeping the form short.
  const [negativeOpen, setNegativeOpen] = useState(false);
  const showNegative = negativeOpen || form.negativePrompt !== '';
  const formRef = useRef<HTMLFormElement>(null);
  const addLoraRef = useRef<HTMLButtonElement>(null);
  const focusAfterRender = useRef<string | null>(null);

  useEffect(() => {
    if (focusAfterRender.current === null) return;
    const pending = focusAfterRender.current;
    focusAfterRender.current = null;
    const target = pending === '' ? null : document.getElementById(pending);
    if (target) target.focus();
    else if (pending.startsWith('lora')) addLoraRef.current?.focus();
  });

  const touch = (field: FieldKey) =>
    setTouched((previous) => (previous.has(field) ? previous : new Set(previous).add(field)));
  const set = <K extends keyof FormState>(key: K, value: FormState[K]) =>
    onChange((previous) => ({ ...previous, [key]: value }));
  const errorsFor = (field: FieldKey): readonly string[] | undefined =>
    touched.has(field) || submitAttempted ? validation.errors[field] : undefined;

  const invalidCount = validation.invalid.length;
  const reason = isPending
    ? 'Sending the request to the gateway…'
    : invalidCount > 0
      ? `Fix ${invalidCount} field${invalidCount === 1 ? '' : 's'}: ${validation.invalid
          .map((field) => FIELD_NAMES[field])
          .join(', ')}`
      : null;

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setSubmitAttempted(true);
    if (isPending) return;
    if (!validation.data) {
      const [first] = validation.invalid;
      if (first) document.getElementById(FIELD_CONTROL_IDS[first])?.focus();
      return;
    }
    onGenerate(validation.data);
  };

  // Ctrl+Enter (⌘+Enter) submits from any field, the textareas included.
  const onKeyDown = (event: KeyboardEvent<HTMLFormElement>) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      formRef.current?.requestSubmit();
    }
  };

  const promptLength = codePoints(form.prompt);
  const negativeLength = codePoints(form.negativePrompt);
  const promptErrors = errorsFor('prompt');
  const negativeErrors = errorsFor('negativePrompt');
  const seedErrors = errorsFor('seed');
  const loraErrors = errorsFor('loras');

  return (
    <form
      ref={formRef}
      className="card form-card"
      aria-label="Generate a video"
      noValidate
      onSubmit={onSubmit}
      onKeyDown={onKeyDown}
    >
      <h2 className="card-title">Describe your video</h2>

      <div className="field">
        <div className="field-head">
          <label htmlFor="prompt">Prompt</label>
          <span
            className={`count${promptLength > LIMITS.prompt.maxLength ? ' over' : ''}`}
            id="prompt-count"
            data-testid="prompt-count"
          >
            {`${promptLength} / ${LIMITS.prompt.maxLength}`}
          </span>
        </div>
        <textarea
          id="prompt"
          name="prompt"
          rows={4}
          required
          placeholder="A lighthouse at dusk, waves crashing on the rocks, cinematic lighting"
          value={form.prompt}
          aria-invalid={promptErrors ? true : undefined}
          aria-describedby={describedBy('prompt-count', promptErrors && 'error-prompt')}
          onChange={(event) => {
            set('prompt', event.target.value);
            touch('prompt');
          }}
          onBlur={() => touch('prompt')}
        />
        <FieldError field="prompt" messages={promptErrors} />
      </div>

      {showNegative ? (
        <div className="field">
          <div className="field-head">
            <label htmlFor="negative-prompt">Negative prompt</label>
            <span className="field-tools">
              <span
                className={`count${negativeLength > LIMITS.negativePrompt.maxLength ? ' over' : ''}`}
                id="negative-prompt-count"
                data-testid="negative-prompt-count"
              >
                {`${negativeLength} / ${LIMITS.negativePrompt.maxLength}`}
              </span>
              <button
                type="button"
                className="btn ghost small"
                onClick={() => {
                  set('negativePrompt', '');
                  setNegativeOpen(false);
                  focusAfterRender.current = 'negative-prompt-toggle';
                }}
              >
                Clear<span className="sr-only"> and hide the negative prompt</span>
              </button>
            </span>
          </div>
          <textarea
            id="negative-prompt"
            name="negative-prompt"
            rows={2}
            placeholder="What to avoid, such as blurry, text, watermark"
            value={form.negativePrompt}
            aria-invalid={negativeErrors ? true : undefined}
            aria-describedby={describedBy(
              'negative-prompt-count',
              negativeErrors && 'error-negativePrompt',
            )}
            onChange={(event) => {
              set('negativePrompt', event.target.value);
              touch('negativePrompt');
            }}
            onBlur={() => touch('negativePrompt')}
          />
          <FieldError field="negativePrompt" messages={negativeErrors} />
        </div>
      ) : (
        <div className="field">
          <button
            type="button"
            id="negative-prompt-toggle"
            className="disclosure"
            aria-expanded="false"
            onClick={() => {
              setNegativeOpen(true);
              focusAfterRender.current = 'negative-prompt';
            }}
          >
            <span aria-hidden="true">+</span> Add a negative prompt{' '}
            <span className="hint">optional: what to avoid</span>
          </button>
        </div>
      )}

      <fieldset className="field">
        <legend>Size</legend>
        <div className="size-grid">
          {SIZE_OPTIONS.map((option) => (
            <label key={option.value} className="size-option">
              <input
                type="radio"
                name="size"
                id={`size-${option.value}`}
                value={option.value}
                checked={form.size === option.value}
                onChange={() => {
                  set('size', option.value);
                  touch('size');
                }}
              />
              <span
                className="size-shape"
                aria-hidden="true"
                style={{ aspectRatio: `${option.width} / ${option.height}` }}
              />
              <span className="size-text">
                <span className="size-dims">{`${option.width}×${option.height}`}</span>{' '}
                <span className="size-orientation">{option.orientation}</span>
              </span>
            </label>
          ))}
        </div>
        <FieldError field="size" messages={errorsFor('size')} />
      </fieldset>

      <div className="group">
        <h3 className="group-title">Sampling</h3>
        <RangeField
          id="steps"
          field="steps"
          label="Steps"
          value={form.steps}
          limits={LIMITS.steps}
          step={1}
          integer
          errors={errorsFor('steps')}
          onValue={(value) => set('steps', value)}
          onTouch={() => touch('steps')}
        />
        <RangeField
          id="guidance-scale"
          field="guidanceScale"
          label="Guidance scale"
          value={form.guidanceScale}
          limits={LIMITS.guidanceScale}
          step={0.1}
          integer={false}
          errors={errorsFor('guidanceScale')}
          onValue={(value) => set('guidanceScale', value)}
          onTouch={() => touch('guidanceScale')}
        />
        <RangeField
          id="flow-shift"
          field="flowShift"
          label="Flow shift"
          value={form.flowShift}
          limits={LIMITS.flowShift}
          step={0.1}
          integer={false}
          errors={errorsFor('flowShift')}
          onValue={(value) => set('flowShift', value)}
          onTouch={() => touch('flowShift')}
        />
      </div>

      <div className="field">
        <div className="field-head">
          <label htmlFor="seed">Seed</label>
          <span className="hint" id="seed-hint">
            -1 (default) picks a random seed
          </span>
        </div>
        <div className="seed-row">
          <input
            type="number"
            id="seed"
            name="seed"
            className="number-input"
            inputMode="numeric"
            step={1}
            min={LIMITS.seed.min}
            max={LIMITS.seed.max}
            value={form.seed}
            aria-invalid={seedErrors ? true : undefined}
            aria-describedby={describedBy('seed-hint', seedErrors && 'error-seed')}
            onChange={(event) => {
              set('seed', event.target.value);
              touch('seed');
            }}
            onBlur={() => touch('seed')}
          />
          <button
            type="button"
            className="btn secondary"
            onClick={() => {
              set('seed', String(randomSeed()));
              touch('seed');
            }}
          >
            Random seed
          </button>
        </div>
        <FieldError field="seed" messages={seedErrors} />
      </div>

      <fieldset className="field">
        <legend>
          LoRAs <span className="hint">{`optional, up to ${LIMITS.loras.maxItems}`}</span>
        </legend>
        {form.loras.length > 0 && (
          <ul className="lora-list">
            {form.loras.map((row, index) => (
              <li className="lora-row" key={row.key}>
                <div className="lora-path">
                  <label htmlFor={`lora-path-${index}`}>{`${loraLabel(index)} path`}</label>
                  <input
                    type="text"
                    id={`lora-path-${index}`}
                    name={`lora-path-${index}`}
                    placeholder="https://…/style.safetensors"
                    autoComplete="off"
                    spellCheck={false}
                    value={row.path}
                    aria-invalid={loraErrors ? true : undefined}
                    aria-describedby={loraErrors ? 'error-loras' : undefined}
                    onChange={(event) => {
                      const path = event.target.value;
                      onChange((previous) => ({
                        ...previous,
                        loras: previous.loras.map((other) =>
                          other.key === row.key ? { ...other, path } : other,
                        ),
                      }));
                      touch('loras');
                    }}
                    onBlur={() => touch('loras')}
                  />
                </div>
                <div className="lora-scale">
                  <label htmlFor={`lora-scale-${index}`}>
                    <span className="sr-only">{`${loraLabel(index)} `}</span>Scale
                  </label>
                  <input
                    type="number"
                    id={`lora-scale-${index}`}
                    name={`lora-scale-${index}`}
                    className="number-input"
                    inputMode="decimal"
                    step="any"
                    value={row.scale}
                    aria-invalid={loraErrors ? true : undefined}
                    aria-describedby={loraErrors ? 'error-loras' : undefined}
                    onChange={(event) => {
                      const scale = event.target.value;
                      onChange((previous) => ({
                        ...previous,
                        loras: previous.loras.map((other) =>
                          other.key === row.key ? { ...other, scale } : other,
                        ),
                      }));
                      touch('loras');
                    }}
                    onBlur={() => touch('loras')}
                  />
                </div>
                <button
                  type="button"
                  className="btn ghost remove"
                  onClick={() => {
                    onChange((previous) => ({
                      ...previous,
                      loras: previous.loras.filter((other) => other.key !== row.key),
                    }));
                    const remaining = form.loras.length - 1;
                    focusAfterRender.current =
                      remaining > 0 ? `lora-path-${Math.min(index, remaining - 1)}` : 'lora-add';
                  }}
                >
                  Remove<span className="sr-only">{` LoRA ${index + 1}`}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
        <button
          ref={addLoraRef}
          type="button"
          className="btn secondary"
          disabled={form.loras.length >= LIMITS.loras.maxItems}
          onClick={() => {
            focusAfterRender.current = `lora-path-${form.loras.length}`;
            onChange((previous) => ({ ...previous, loras: [...previous.loras, newLoraRow()] }));
          }}
        >
          Add LoRA
        </button>
        <FieldError field="loras" messages={loraErrors} />
      </fieldset>

      <div className="submit-row">
        <button
          type="submit"
          className="btn primary big"
          disabled={reason !== null}
          aria-describedby={reason === null ? undefined : 'submit-reason'}
        >
          Generate video
        </button>
        {reason === null ? (
          <p className="hint">Ctrl + Enter generates from any field.</p>
        ) : (
          <p className="submit-reason" id="submit-reason" data-testid="submit-reason">
            {reason}
          </p>
        )}
      </div>
    </form>
  );
}
