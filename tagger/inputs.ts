// Command-line paths → the videos to tag, each with where its outputs go.
// Files named on the command line are taken whatever their extension (a
// wrong one gets a clear message later); folders give their .mp4/.m4v/.mov
// files, recursively, with outputs mirroring the folder's layout.
import { readdir, stat } from "node:fs/promises";
import { basename, extname, join, relative } from "node:path";

const VIDEO_EXTENSIONS = new Set([".mp4", ".m4v", ".mov"]);

export interface VideoInput {
  path: string;
  /** Output path without extension, relative to --out. */
  name: string;
}

export interface InputProblem {
  path: string;
  message: string;
}

async function walk(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await walk(path)));
    else if (entry.isFile() && VIDEO_EXTENSIONS.has(extname(entry.name).toLowerCase())) found.push(path);
  }
  return found;
}

const stem = (path: string) => path.slice(0, path.length - extname(path).length);

export async function expandInputs(paths: string[]): Promise<{ videos: VideoInput[]; problems: InputProblem[] }> {
  const videos: VideoInput[] = [];
  const problems: InputProblem[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problems.push({ path, message: code === "ENOENT" ? "no such file or folder" : `cannot be read (${code ?? (error as Error).message})` });
      continue;
    }
    if (info.isDirectory()) {
      const files = await walk(path);
      if (files.length === 0) problems.push({ path, message: `the folder holds no ${[...VIDEO_EXTENSIONS].join("/")} files` });
      for (const file of files) videos.push({ path: file, name: join(basename(path), stem(relative(path, file))) });
    } else {
      videos.push({ path, name: stem(basename(path)) });
    }
  }
  // Two inputs with the same output name (a/x.mp4 and b/x.mp4) get numbered.
  const seen = new Map<string, number>();
  for (const v of videos) {
    const n = seen.get(v.name) ?? 0;
    seen.set(v.name, n + 1);
    if (n > 0) v.name = `${v.name}-${n + 1}`;
  }
  return { videos, problems };
}
