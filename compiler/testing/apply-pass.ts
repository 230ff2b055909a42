// Runs a pass on a model for a test, and proves the pass is pure: the input
// model must be exactly as it was before.
import { expect } from "vitest";
import type { Model } from "../ir/index.ts";
import type { Pass } from "../passes/pass.ts";

export function applyPass(pass: Pass, before: Model): { after: Model; summary: string } {
  const snapshot = structuredClone(before);
  const { graph, summary } = pass.run(before.graph);
  expect(before).toEqual(snapshot);
  return { after: { ...before, graph }, summary };
}
