import { useGenerateVideo, useVideoTasks, VideoGatewayProvider } from '@wan-video/react-hooks';

export function App() {
  return (
    <VideoGatewayProvider
      url="http://localhost:4000/graphql"
      getAuthToken={() => sessionStorage.getItem('apiKey')}
    >
      <VideoGenerator />
      <History />
    </VideoGatewayProvider>
  );
}

export function VideoGenerator() {
  const { generate, status, progressPercent, etaSeconds, videos, error, isPending } =
    useGenerateVideo();
  return (
    <section>
      <button
        type="button"
        disabled={isPending}
        onClick={() =>
          void generate({ prompt: 'a lighthouse at dusk, waves', width: 832, height: 480 })
        }
      >
        Generate
      </button>
      {status && (
        <p>
          {status} {progressPercent}% {etaSeconds !== null && `(about ${etaSeconds} s left)`}
        </p>
      )}
      {videos[0] && <video src={videos[0].url} controls loop muted />}
      {error?.kind === 'validation' && (
        <ul>
          {error.issues.map((issue) => (
            <li key={issue.path.join('.')}>{issue.message}</li>
          ))}
        </ul>
      )}
      {error?.kind === 'rate_limited' && (
        <p>Slow down: try again in {error.retryAfterSeconds} s.</p>
      )}
      {error && error.kind !== 'validation' && error.kind !== 'rate_limited' && (
        <p>{error.message}</p>
      )}
    </section>
  );
}

export function History() {
  const { tasks, isLoading } = useVideoTasks({ first: 10 });
  if (isLoading) return <p>Loading…</p>;
  return (
    <ol>
      {tasks.map((task) => (
        <li key={task.id}>
          {task.input.prompt}: {task.status}
        </li>
      ))}
    </ol>
  );
}
