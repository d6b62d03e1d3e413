/**
 * Summarize `pulumi preview --json` for CI: one line per resource that changes, with the
 * operation and the properties behind it, and an exit status a pipeline can gate on.
 *
 *   pulumi preview --diff                    # human-readable diff in the job log
 *   pulumi preview --json > preview.json     # machine-readable plan
 *   node lib/examples/ci-preview/summarize.js preview.json [--fail-on-replace]
 *
 * Keys starting with "__" (the dynamic providers' serialized code) are internal and ignored.
 */
export interface PreviewStep {
  op: string;
  urn: string;
  diffReasons?: string[];
  replaceReasons?: string[];
  detailedDiff?: Record<string, { kind: string; inputDiff?: boolean }>;
}

export interface PreviewDigest {
  steps?: PreviewStep[];
  changeSummary?: Record<string, number>;
  diagnostics?: { severity?: string; message?: string; urn?: string }[];
}

export interface StepSummary {
  op: string;
  type: string;
  name: string;
  properties: string[];
}

const NO_CHANGE = new Set(["same", "read", "refresh"]);

export function summarize(d: PreviewDigest): { changes: StepSummary[]; replacements: number; errors: string[] } {
  const changes: StepSummary[] = [];
  for (const s of d.steps ?? []) {
    if (NO_CHANGE.has(s.op)) continue;
    const parts = s.urn.split("::");
    const type = parts[2]?.split("$").pop() ?? "";
    const name = parts[3] ?? s.urn;
    const props = new Set<string>([...(s.replaceReasons ?? []), ...(s.diffReasons ?? []), ...Object.keys(s.detailedDiff ?? {})]);
    changes.push({ op: s.op, type, name, properties: Array.from(props).filter((p) => !p.startsWith("__")).sort() });
  }
  const replacements = changes.filter((c) => /replace/.test(c.op)).length;
  const errors = (d.diagnostics ?? []).filter((x) => x.severity === "error").map((x) => (x.message ?? "").trim());
  return { changes, replacements, errors };
}

export function render(s: ReturnType<typeof summarize>): string {
  if (!s.changes.length) return "no changes";
  const rows = s.changes.map((c) => `${c.op.padEnd(16)} ${c.type.padEnd(40)} ${c.name}${c.properties.length ? `  [${c.properties.join(", ")}]` : ""}`);
  return [`${s.changes.length} change(s), ${s.replacements} replacement(s)`, ...rows].join("\n");
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: summarize.js preview.json [--fail-on-replace]");
    process.exit(2);
  }
  const digest = JSON.parse(require("fs").readFileSync(file, "utf8")) as PreviewDigest;
  const s = summarize(digest);
  console.log(render(s));
  for (const e of s.errors) console.error(`error: ${e}`);
  if (s.errors.length) process.exit(1);
  if (process.argv.includes("--fail-on-replace") && s.replacements > 0) process.exit(3);
}
