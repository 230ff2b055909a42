// The bundled default model (models/default) for tests, with or without the
// class-map output it carries for ?explain=1 (tests about the logits path
// count its layers without the map's).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseManifestJson } from "../../contract/manifest.ts";
import { decodeModel, type Model } from "../ir/index.ts";
import { dropClassMap } from "../passes/expose-class-map.ts";

const DIR = resolve(import.meta.dirname, "../../models/default");

export function bundledModel({ classMap }: { classMap: boolean }): Model {
  const model = decodeModel(readFileSync(resolve(DIR, "model.onnx")), "models/default/model.onnx");
  if (classMap) return model;
  return dropClassMap(model, parseManifestJson(readFileSync(resolve(DIR, "manifest.json"), "utf8"), "models/default/manifest.json")).model;
}
