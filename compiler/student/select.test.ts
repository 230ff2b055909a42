// Student choice: the grid's candidates counted from their graphs (equal to
// the training engine's count_macs/count_params), the most capable one under
// a MACs, params/bytes or measured onnxruntime-web latency budget.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { defaultPython, REPO_ROOT } from "../../training/python.ts";
import { CompileError } from "../errors.ts";
import { candidateTable, chooseStudent, StudentConfigSchema } from "./select.ts";
import { measureLatency } from "../measure/in-process.ts";
import { buildX3d, x3dCost, type X3dCandidate } from "./x3d.ts";

const LIMITS = { frames: 8, crop: 64, classes: 8 };
const GRID = { widthFactor: [0.25, 0.5, 1], depthFactor: [1], frames: [4, 8], crop: [32, 64], headDimOut: [64] };
const GRID_SMALLEST = { widthFactor: 0.25, depthFactor: 1, frames: 4, crop: 32, headDimOut: 64 };
const config = (budget: object) => StudentConfigSchema.parse({ budget, grid: GRID, latency: { runs: 3, warmup: 1 } });

describe("X3D candidates built in code", () => {
  it("count exactly what the training engine counts (count_macs, count_params)", async () => {
    const candidates: X3dCandidate[] = [
      { widthFactor: 2, depthFactor: 2.2, frames: 13, crop: 160, headDimOut: 2048 }, // X3D-S
      { widthFactor: 0.5, depthFactor: 1, frames: 8, crop: 64, headDimOut: 128 }, // the tiny preset
      { widthFactor: 1, depthFactor: 1.6, frames: 4, crop: 48, headDimOut: 64 }, // crop not a multiple of 32
    ];
    const script = [
      "import json, sys",
      "from videotrain.models import build_from_config",
      "from videotrain.models.profile import count_macs, count_params",
      "out = []",
      "for c in json.loads(sys.argv[1]):",
      "    kw = {'input_clip_length': c['frames'], 'input_crop_size': c['crop'], 'width_factor': c['widthFactor'],",
      "          'depth_factor': c['depthFactor'], 'head_dim_out': c['headDimOut'], 'model_num_class': 400}",
      "    m = build_from_config({'arch': 'x3d', 'preset': 's', 'modelKwargs': kw})",
      "    out.append({'macs': count_macs(m, (3, c['frames'], c['crop'], c['crop'])), 'params': count_params(m)})",
      "print(json.dumps(out))",
    ].join("\n");
    const { stdout } = await promisify(execFile)(defaultPython(), ["-c", script, JSON.stringify(candidates)], {
      cwd: REPO_ROOT,
      env: { ...process.env, OMP_NUM_THREADS: "1" },
    });
    const ours = candidates.map((c) => x3dCost(buildX3d(c, 400)));
    expect(ours).toEqual(JSON.parse(stdout));
    expect(ours[0]).toEqual({ macs: 1_962_892_112, params: 3_794_274 }); // SYSTEM.md: X3D-S 3.794M / 1.963 GMACs
  }, 120_000);
});

describe("chooseStudent", () => {
  it("takes the most multiply-adds under a MACs budget, and prints the table", async () => {
    const choice = await chooseStudent(config({ macs: 3_000_000 }), LIMITS);
    console.log(candidateTable(choice));
    expect(choice.chosen.macs).toBeLessThanOrEqual(3_000_000);
    expect(choice.considered).toHaveLength(12);
    const fitting = choice.considered.filter((c) => c.macs <= 3_000_000);
    expect(choice.chosen.macs).toBe(Math.max(...fitting.map((c) => c.macs)));
    expect(choice.considered.filter((c) => !c.fits).every((c) => c.over.includes("macs"))).toBe(true);
    expect(candidateTable(choice)).toMatch(/^\*\s+\S+\s+1\s+/m);
  });

  it("takes the most multiply-adds under a params budget and a bytes budget", async () => {
    const byParams = await chooseStudent(config({ params: 60_000 }), LIMITS);
    expect(byParams.chosen.params).toBeLessThanOrEqual(60_000);
    // Params do not depend on frames or crop: the biggest clip of the fitting widths wins.
    expect([byParams.chosen.frames, byParams.chosen.crop]).toEqual([8, 64]);
    const bigger = byParams.considered.filter((c) => c.macs > byParams.chosen.macs);
    expect(bigger.every((c) => c.params > 60_000)).toBe(true);
    const byBytes = await chooseStudent(config({ bytes: 240_000 }), LIMITS);
    expect(byBytes.chosen).toEqual(byParams.chosen);
  });

  it("leaves out frames and crops beyond the teacher's", async () => {
    const choice = await chooseStudent(config({ macs: 1e12 }), { ...LIMITS, frames: 4, crop: 48 });
    expect(new Set(choice.considered.map((c) => `${c.frames}x${c.crop}`))).toEqual(new Set(["4x32"]));
  });

  it("meets a latency budget measured in onnxruntime-web (wasm, one thread)", async () => {
    await measureLatency(buildX3d({ ...GRID_SMALLEST }, LIMITS.classes, "random"), { runtime: "web", runs: 1 }); // the first session pays for wasm start-up
    const all = await chooseStudent(config({ latencyMs: 1e6 }), LIMITS);
    expect(all.chosen.macs).toBe(Math.max(...all.considered.map((c) => c.macs)));
    const biggest = all.chosen.latencyMs!;
    const budget = biggest / 4;
    const choice = await chooseStudent(config({ latencyMs: budget }), LIMITS, (line) => console.log(line));
    const again = await measureLatency(buildX3d(choice.chosen, LIMITS.classes, "random"), { runtime: "web", runs: 5, warmup: 1 });
    console.log(`latency budget ${budget.toFixed(1)} ms (biggest candidate ${biggest.toFixed(1)} ms); chosen re-measured ${again.toFixed(1)} ms\n${candidateTable(choice)}`);
    expect(choice.chosen.latencyMs!).toBeLessThanOrEqual(budget);
    // Every bigger candidate measured before it was over the budget.
    const measured = choice.considered.filter((c) => c.latencyMs !== undefined);
    expect(measured.at(-1)).toBe(choice.chosen);
    expect(measured.slice(0, -1).every((c) => c.over.includes("latencyMs"))).toBe(true);
    // Generous tolerance: timings on this shared machine move.
    expect(again).toBeLessThan(3 * budget);
  }, 120_000);

  it("refuses a budget nothing meets, naming the smallest candidate", async () => {
    await expect(chooseStudent(config({ macs: 10 }), LIMITS)).rejects.toThrow(CompileError);
    await expect(chooseStudent(config({ macs: 10 }), LIMITS)).rejects.toThrow(
      /^student: no candidate meets the budget \{"macs":10\}; the smallest, x3d w0\.25 d1 4x32x32 head 64, has [\d,]+ MACs/,
    );
  });
});
