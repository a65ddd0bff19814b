import { createFile, type Movie, MP4BoxBuffer } from 'mp4box';

/** Reads an MP4's movie info (tracks, sizes, duration, sample counts) with mp4box. */
export function readMp4(bytes: Uint8Array): Movie {
  const file = createFile();
  let info: Movie | undefined;
  let failure: unknown;
  file.onReady = (movie: Movie) => {
    info = movie;
  };
  file.onError = (_module: string, message: string) => {
    failure = new Error(message);
  };
  const buffer = MP4BoxBuffer.fromArrayBuffer(bytes.slice().buffer as ArrayBuffer, 0);
  file.appendBuffer(buffer);
  file.flush();
  if (failure) throw failure;
  if (!info) throw new Error('not an MP4 with a movie header');
  return info;
}
