/**
 * The "EMULATOR" mark burned into every frame, drawn from a 5×7 bitmap font so that no font
 * file is needed. Written as a binary PGM (grey) image that ffmpeg overlays.
 */
const GLYPHS: Readonly<Record<string, readonly string[]>> = {
  E: ['11111', '10000', '10000', '11110', '10000', '10000', '11111'],
  M: ['10001', '11011', '10101', '10101', '10001', '10001', '10001'],
  U: ['10001', '10001', '10001', '10001', '10001', '10001', '01110'],
  L: ['10000', '10000', '10000', '10000', '10000', '10000', '11111'],
  A: ['01110', '10001', '10001', '11111', '10001', '10001', '10001'],
  T: ['11111', '00100', '00100', '00100', '00100', '00100', '00100'],
  O: ['01110', '10001', '10001', '10001', '10001', '10001', '01110'],
  R: ['11110', '10001', '10001', '11110', '10100', '10010', '10001'],
};

export const MARK_TEXT = 'EMULATOR';

/** A white-on-black PGM of the mark, each font pixel `scale`×`scale`, with a 1-pixel margin. */
export function markImage(scale: number): { width: number; height: number; pgm: Buffer } {
  const letters = [...MARK_TEXT].map((char) => GLYPHS[char] ?? GLYPHS.O ?? []);
  const cols = letters.length * 6 + 1;
  const rows = 9;
  const width = cols * scale;
  const height = rows * scale;
  const pixels = Buffer.alloc(width * height);
  letters.forEach((glyph, index) => {
    glyph.forEach((line, row) => {
      for (let col = 0; col < line.length; col++) {
        if (line[col] !== '1') continue;
        const x0 = (1 + index * 6 + col) * scale;
        const y0 = (1 + row) * scale;
        for (let y = y0; y < y0 + scale; y++)
          pixels.fill(255, y * width + x0, y * width + x0 + scale);
      }
    });
  });
  const header = Buffer.from(`P5\n${width} ${height}\n255\n`, 'ascii');
  return { width, height, pgm: Buffer.concat([header, pixels]) };
}
