/** Whether `url` is on `origin` (then `<a download>` downloads it as is). */
export function isSameOrigin(url: string, origin: string): boolean {
  try {
    return new URL(url, origin).origin === origin;
  } catch {
    return false;
  }
}

/** The file name a task's video is saved as. */
export const downloadName = (taskId: string, type = 'mp4'): string =>
  `wan-video-${taskId}.${type || 'mp4'}`;

export interface DownloadEnvironment {
  readonly fetch: typeof globalThis.fetch;
  readonly document: Document;
  readonly createObjectURL: (blob: Blob) => string;
  readonly revokeObjectURL: (url: string) => void;
}

/**
 * Downloads a file from another origin without leaving the page: `download` is ignored on a
 * cross-origin link, so the bytes are fetched (the video server allows CORS) and saved from an
 * object URL.
 */
export async function downloadViaBlob(
  url: string,
  fileName: string,
  environment: DownloadEnvironment,
  signal?: AbortSignal,
): Promise<void> {
  const response = await environment.fetch(url, signal ? { signal } : {});
  if (!response.ok) throw new Error(`the video server answered HTTP ${response.status}`);
  const blob = await response.blob();
  const objectUrl = environment.createObjectURL(blob);
  const link = environment.document.createElement('a');
  link.href = objectUrl;
  link.download = fileName;
  link.hidden = true;
  environment.document.body.append(link);
  link.click();
  link.remove();
  // The download has its bytes once it started; give it a moment before freeing them.
  setTimeout(() => environment.revokeObjectURL(objectUrl), 60_000);
}
