// The real H100 FP8 GEMM tiles in ../shared/numerics (relative to the repo root; CI has it there too).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface TileCase {
  kind: string;
  M: number;
  N: number;
  K: number;
  fast_accum: boolean;
  A_e4m3_rowmajor: string;
  B_e4m3_rowmajor: string;
  C_f32le_rowmajor: string;
  max_rel_err_vs_absdot: number;
}

export interface H100Tile {
  label: string;
  M: number;
  N: number;
  K: number;
  /** E4M3FN codes, A row-major M×K, B row-major K×N. */
  A: Uint8Array;
  B: Uint8Array;
  /** float32 bit patterns the GPU returned, row-major M×N. */
  C: Uint32Array;
  maxRelErr: number;
}

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const H100_TILES_FILE = "../shared/numerics/h100_fp8_gemm_tiles.json";

function hexBytes(hex: string, expected: number, what: string): Uint8Array {
  if (!/^[0-9a-f]*$/i.test(hex) || hex.length !== 2 * expected) {
    throw new Error(`${what}: expected ${expected} bytes of hex, got ${hex.length} characters`);
  }
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

let h100Tiles: H100Tile[] | undefined;
export function loadH100Tiles(): H100Tile[] {
  if (h100Tiles) return h100Tiles;
  const file = path.resolve(REPO_ROOT, H100_TILES_FILE);
  if (!existsSync(file)) {
    throw new Error(
      `H100 numerics data missing: ${H100_TILES_FILE} (resolved to ${file}). The shared numerics directory must sit ` +
        `next to the repository; see docs/numerics.md.`,
    );
  }
  const { cases } = JSON.parse(readFileSync(file, "utf8")) as { cases: TileCase[] };
  h100Tiles = cases.map((c, index) => {
    const label = `#${index} ${c.kind} K=${c.K} fast_accum=${c.fast_accum}`;
    const cBytes = hexBytes(c.C_f32le_rowmajor, 4 * c.M * c.N, `${label} C`);
    const view = new DataView(cBytes.buffer);
    return {
      label,
      M: c.M,
      N: c.N,
      K: c.K,
      A: hexBytes(c.A_e4m3_rowmajor, c.M * c.K, `${label} A`),
      B: hexBytes(c.B_e4m3_rowmajor, c.K * c.N, `${label} B`),
      C: Uint32Array.from({ length: c.M * c.N }, (_, index) => view.getUint32(4 * index, true)),
      maxRelErr: c.max_rel_err_vs_absdot,
    };
  });
  return h100Tiles;
}

/** Rows [row, row+rows) × columns [col, col+cols) of a tile, as the inputs of Fp8GemmTile(rows, cols, K). */
export function subTile(tile: H100Tile, row: number, col: number, rows: number, cols: number) {
  const a: number[][] = [];
  for (let i = 0; i < rows; i++) a.push(Array.from(tile.A.subarray((row + i) * tile.K, (row + i + 1) * tile.K)));
  const b: number[][] = [];
  for (let k = 0; k < tile.K; k++) b.push(Array.from(tile.B.subarray(k * tile.N + col, k * tile.N + col + cols)));
  const c: number[][] = [];
  for (let i = 0; i < rows; i++)
    c.push(Array.from(tile.C.subarray((row + i) * tile.N + col, (row + i) * tile.N + col + cols)));
  return { a, b, c };
}
