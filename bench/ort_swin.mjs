// ONNX Runtime side of the region-encoder benchmark (bench/run_bench.sh runs it); generic over
// an ONNX file with one input "image" (B, 3, S, S) and an output "stage3".
//   node bench/ort_swin.mjs MODEL.onnx [--threads 1,2] [--batch 4] [--iters 5] [--warmup 1] [--img 256]
// MODEL.onnx: tools/export_onnx.py --encoder swin|hiera|convnext (random weights). Session options:
// graphOptimizationLevel 'all', intraOpNumThreads T, interOpNumThreads 1, sequential execution.
// Input: a deterministic ramp (the same one tools/export_onnx.py reports a checksum for), so the
// printed checksum shows the exported graph computes what PyTorch does.
// Regions/s from the median batch time (the minimum is printed too), as in bench_swin.c.
// Prints one line per thread count:
//   RESULT ort threads=T batch=B regions_per_s=R sec_per_batch=S peak_rss_mb=M
import ort from 'onnxruntime-node';
import process from 'node:process';

const args = process.argv.slice(2);
if (args.length < 1) {
  console.error('usage: node bench/ort_swin.mjs MODEL.onnx [--threads 1,2] [--batch B] [--iters N]');
  process.exit(2);
}
const model = args[0];
const opt = { threads: '1,2', batch: '4', iters: '5', warmup: '1', img: '256' };
for (let i = 1; i + 1 < args.length; i += 2) {
  const k = args[i].replace(/^--/, '');
  if (!(k in opt)) { console.error(`unknown option ${args[i]}`); process.exit(2); }
  opt[k] = args[i + 1];
}
const B = parseInt(opt.batch), S = parseInt(opt.img), iters = parseInt(opt.iters), warm = parseInt(opt.warmup);
const n = B * 3 * S * S;
const data = new Float32Array(n);
for (let i = 0; i < n; i++) data[i] = (i % 251) / 125.0 - 1.0;
const feeds = { image: new ort.Tensor('float32', data, [B, 3, S, S]) };

const peakMb = () => process.resourceUsage().maxRSS / 1024; // KiB on Linux
console.log(`# onnxruntime-node ${ort.env.versions ? JSON.stringify(ort.env.versions) : ''}`);
for (const t of opt.threads.split(',').map(Number)) {
  const sess = await ort.InferenceSession.create(model, {
    graphOptimizationLevel: 'all', intraOpNumThreads: t, interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  let out;
  for (let i = 0; i < warm; i++) out = await sess.run(feeds);
  const times = [];
  for (let i = 0; i < iters; i++) {
    const t0 = process.hrtime.bigint();
    out = await sess.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  const m = times.length >> 1;
  const dt = times.length % 2 ? times[m] : 0.5 * (times[m - 1] + times[m]);
  const s3 = out.stage3.data;
  let am = 0;
  for (let i = 0; i < s3.length; i++) am += Math.abs(s3[i]);
  console.log(`# threads=${t} checksum stage3 absmean=${(am / s3.length).toFixed(6)}`);
  console.log(`RESULT ort threads=${t} batch=${B} regions_per_s=${(B / dt).toFixed(3)} ` +
              `sec_per_batch=${dt.toFixed(4)} min_sec_per_batch=${times[0].toFixed(4)} peak_rss_mb=${peakMb().toFixed(0)}`);
  await sess.release();
}
