// `npm run train`: a thin front over the Python trainer. It finds the Python
// environment (the project's .venv, or one the user names), checks torch and
// the device, says plainly what is missing, and runs `videotrain` with the
// terminal attached so its progress bars show. With no arguments it trains the
// tiny preset on the synthetic dataset (generated on first use).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { defaultPython, PythonMissing, REPO_ROOT as root } from "./python.ts";

const USAGE = `usage: npm run train -- [--python PATH] [videotrain train options]

  With no options: generates the synthetic dataset in data/synthetic (once; 80
  training and 10 validation clips per class) and trains the tiny X3D preset
  into runs/<timestamp>: the bundled default model's recipe (92.5% val top-1).
  Without --data (or --train-list) training uses that synthetic set; without
  --out it writes runs/<timestamp>.
  Any other options go to \`videotrain train\`, e.g.
    npm run train -- --data data/synthetic --arch x3d --preset tiny --epochs 12 --out runs/tiny
    npm run train -- --data DIR --preset x3d_m_kinetics --out runs/x3d-m   (a recipe in training/presets/)
    npm run train -- --data DIR --config my-recipe.json --lr 2e-4 --out runs/mine   (flags override the file)
    npm run train -- --data DIR --preset tiny_finetune --pretrained X3D_tiny.pyth --out runs/tuned
                    (fine-tune: .pyth/.pt/.pth/.safetensors or a run dir; the head is replaced when the
                    class count differs; --freeze-backbone for a linear probe, --backbone-lr-mult X)
    npm run train -- make-dataset --out data/synthetic      (other videotrain commands too)
    npm run train -- explain --run runs/tiny VIDEO [--label NAME] [--method gradcam|cam]   (Grad-CAM pictures)
  --python PATH   the interpreter to use (default: .venv/bin/python, made by npm run setup:python;
                  or the EDGEVID_PYTHON environment variable)
  --gpus N        train with N processes under torchrun, one per GPU (gloo processes on a CPU-only
                  machine); --batch-size stays the global batch. Several machines: run
                  torchrun --nnodes ... -m videotrain train ... on each.`;

function fail(message: string): never {
  console.error(`train: ${message}`);
  process.exit(1);
}

function findPython(args: string[]): { python: string; rest: string[] } {
  const i = args.indexOf("--python");
  if (i >= 0) {
    const python = args[i + 1];
    if (!python) fail("--python needs a path to a Python interpreter");
    return { python, rest: [...args.slice(0, i), ...args.slice(i + 2)] };
  }
  try {
    return { python: defaultPython(), rest: args };
  } catch (e) {
    if (!(e instanceof PythonMissing)) throw e;
    fail(`${e.message}\n  or name one: npm run train -- --python /path/to/python`);
  }
}

// --gpus N: how many training processes torchrun starts on this machine.
function takeGpus(args: string[]): { gpus: number; rest: string[] } {
  const i = args.indexOf("--gpus");
  if (i < 0) return { gpus: 1, rest: args };
  const value = args[i + 1];
  const gpus = Number(value);
  if (!value || !Number.isInteger(gpus) || gpus < 1) fail(`--gpus needs a whole number >= 1, got ${value ?? "nothing"}`);
  return { gpus, rest: [...args.slice(0, i), ...args.slice(i + 2)] };
}

function run(python: string, args: string[], gpus = 1): number {
  // torch.distributed.run is torchrun; through the same interpreter it needs nothing else on PATH.
  const launcher = gpus > 1 ? ["-m", "torch.distributed.run", "--standalone", `--nproc_per_node=${gpus}`] : [];
  const r = spawnSync(python, [...launcher, "-m", "videotrain", ...args], { stdio: "inherit", cwd: root });
  if (r.error) fail(`could not run ${python}: ${r.error.message}`);
  return r.status ?? 1;
}

function main(argv: string[]): void {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return;
  }
  const { python, rest: withGpus } = findPython(argv);
  const { gpus, rest } = takeGpus(withGpus);
  // `videotrain check` prints torch, device and what is missing; it exits 1 when training cannot run.
  const check = spawnSync(python, ["-m", "videotrain", "check"], { cwd: root, encoding: "utf8" });
  if (check.error) fail(`could not run ${python}: ${check.error.message}`);
  if (check.status !== 0) {
    const why = `${check.stdout ?? ""}${check.stderr ?? ""}`.trim();
    const missingPackage = /No module named '?videotrain/.test(why);
    fail(
      missingPackage
        ? `${python} does not have the videotrain package. Run: npm run setup:python (or pip install -e training)`
        : `${python} cannot train:\n${why}`,
    );
  }
  process.stdout.write(check.stdout);

  let args = rest;
  const commands = ["train", "make-dataset", "evaluate", "check", "frames", "explain", "finetune", "distill"];
  if (args.length === 0 || !commands.includes(args[0])) args = ["train", ...args];
  if (args[0] === "train") {
    // Training without a dataset uses the synthetic set, without --out a fresh runs/<timestamp>.
    if (!args.some((a) => ["--data", "--train-list", "-h", "--help"].includes(a.split("=")[0]))) {
      const data = join(root, "data", "synthetic");
      if (!existsSync(join(data, "train.txt"))) {
        // The bundled default model's set (scripts/build-default-model.sh), so the
        // default command reproduces its recipe and its accuracy.
        const code = run(python, ["make-dataset", "--out", data, "--train-per-class", "80", "--val-per-class", "10", "--seed", "0"]);
        if (code !== 0) process.exit(code);
      }
      args = [...args, "--data", data];
    }
    if (!args.some((a) => ["--out", "-h", "--help"].includes(a.split("=")[0]))) {
      const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
      args = [...args, "--out", join(root, "runs", stamp)];
    }
  }
  if (gpus > 1 && args[0] !== "train") fail(`--gpus applies to training, not to ${args[0]}`);
  process.exit(run(python, args, gpus));
}

main(process.argv.slice(2));
