// The timeline page for a hand-made job: self-contained (no scripts or
// external resources), an SVG rect per segment at its place on the axis, a
// score bar per clip and strip, failed clips marked, labels escaped.
import { describe, expect, it } from "vitest";
import { clock, renderTimeline, timelineSvg } from "../src/jobs/timeline.ts";
import { handMadeJob } from "./fixtures/job.ts";

describe("renderTimeline", () => {
  const job = handMadeJob();
  const html = renderTimeline(job);

  it("has one rect per segment, placed on the duration axis in order", () => {
    const rects = [...html.matchAll(/<rect class="segment" data-label="([^"]*)" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)];
    expect(rects.map((r) => r[1])).toEqual(["walk", "run, fast"]);
    const [first, second] = rects.map((r) => ({ x: Number(r[2]), width: Number(r[3]) }));
    // 130 px of row names, 810 px for 3725.5 s.
    expect(first.x).toBe(130);
    expect(first.width).toBeCloseTo((4 / 3725.5) * 810, 1);
    expect(second.x).toBeCloseTo(130 + (6 / 3725.5) * 810, 1);
    expect(second.x + second.width).toBeCloseTo(940, 1);
  });

  it("draws a score bar per clip in each leading label's strip, and marks the failed clip", () => {
    // Strips for the labels among the tags and segments: walk and "run, fast".
    expect([...html.matchAll(/class="row">([^<]+)</g)].map((m) => m[1])).toEqual(["segments", "walk", "run, fast"]);
    expect(html.match(/<rect class="score"/g)).toHaveLength(job.clips.length * 2);
    expect(html.match(/<rect class="failed"/g)).toHaveLength(1);
    expect(html).toContain("clip 2 failed: decode_failed");
  });

  it("is self-contained and escapes labels", () => {
    expect(html).not.toMatch(/<script|<link|src=|href=|@import|url\(/i);
    const odd = handMadeJob();
    odd.segments[0].label = odd.labels[2];
    const escaped = renderTimeline(odd);
    expect(escaped).toContain('data-label="say &quot;hi&quot; &lt;now&gt; &amp; --&gt;"');
    expect(escaped).toContain('class="row">say &quot;hi&quot; &lt;now&gt; &amp; --&gt;</text>');
    expect(escaped).not.toContain("<now>");
    expect(html).toContain("1:02:06 · 1280×720");
    for (const tag of job.tags) expect(html).toContain(`${tag.label.replace("&", "&amp;")} <b>${tag.score.toFixed(3)}</b>`);
  });

  it("the SVG stands alone with ticks along the axis", () => {
    const svg = timelineSvg(job);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect([...svg.matchAll(/class="tick">([^<]+)</g)].map((m) => m[1])).toEqual(["0:00", "10:00", "20:00", "30:00", "40:00", "50:00", "1:00:00"]);
  });

  it("draws a long job's clips as one bar per pixel column: their mean score", () => {
    const long = handMadeJob();
    // 2000 back-to-back clips of 1.8 s over the hour: more clips than the strip's 810 pixels.
    long.clips = Array.from({ length: 2000 }, (_, id) => ({ ...long.clips[0], id, start: id * 1.8, end: id * 1.8 + 1.8, scores: id % 2 ? [1, 0, 0] : [0, 1, 0] }));
    const page = renderTimeline(long);
    const walk = [...page.matchAll(/<rect class="score"[^>]*height="([\d.]+)"[^>]*><title>(\d+) clips \((\d+)–(\d+)\)[^<]*: walk ([\d.]+)</g)];
    expect(walk.length).toBeGreaterThan(700);
    expect(walk.length).toBeLessThanOrEqual(810);
    expect(walk.reduce((n, m) => n + Number(m[2]), 0)).toBe(2000);
    // Odd clips score walk 1, even ones 0: a column's bar is the share of odd ids among its clips.
    for (const [, , n, first, last, mean] of walk) {
      const odd = Math.floor((Number(last) + 1) / 2) - Math.floor(Number(first) / 2);
      expect(Number(mean)).toBeCloseTo(odd / Number(n), 3);
    }
  });

  it.each([
    [0, "0:00"],
    [61, "1:01"],
    [3725.5, "1:02:06"],
  ])("clock(%d) is %s", (s, text) => expect(clock(s)).toBe(text));
});
