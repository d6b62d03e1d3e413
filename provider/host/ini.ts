/**
 * Editing OpenStack config files (oslo.config INI) without losing what is in them: comments,
 * blank lines, order, other sections and keys stay as they are; only the keys we set change.
 *
 * oslo.config reads `key = value` and `key=value`, `#` and `;` comment lines, section headers
 * `[name]`; a key may appear commented out (`#compute_driver = ...`) as documentation, which we
 * leave alone and add the live key after it.
 */

export interface IniEdit {
  section: string;
  key: string;
  value: string;
}

interface Line {
  text: string;
  section: string;
  key?: string;
  value?: string;
}

function parseLines(text: string): Line[] {
  let section = "DEFAULT";
  const out: Line[] = [];
  for (const raw of text.split("\n")) {
    const t = raw.trim();
    const sec = /^\[([^\]]+)\]\s*$/.exec(t);
    if (sec) {
      section = sec[1].trim();
      out.push({ text: raw, section });
      continue;
    }
    const kv = t && !t.startsWith("#") && !t.startsWith(";") ? /^([^=\s]+)\s*=\s*(.*)$/.exec(t) : null;
    out.push(kv ? { text: raw, section, key: kv[1], value: kv[2] } : { text: raw, section });
  }
  return out;
}

/** The value of `key` in `section` (the last one wins, as in oslo.config), or undefined. */
export function iniGet(text: string, section: string, key: string): string | undefined {
  let v: string | undefined;
  for (const l of parseLines(text)) if (l.section === section && l.key === key) v = l.value;
  return v;
}

/** The sections present, in order (DEFAULT first when it has keys before any header). */
export function iniSections(text: string): string[] {
  const seen: string[] = [];
  for (const l of parseLines(text)) if ((l.key || /^\s*\[/.test(l.text)) && !seen.includes(l.section)) seen.push(l.section);
  return seen;
}

/**
 * Apply the edits: replace the value of an existing key in place (every occurrence in that
 * section, so a duplicate cannot override it), else add the key at the end of its section, else
 * add the section at the end. Returns the new text and whether anything changed.
 */
export function iniSet(text: string, edits: IniEdit[]): { text: string; changed: boolean } {
  const lines = parseLines(text);
  for (const e of edits) {
    let found = false;
    for (const l of lines) {
      if (l.section === e.section && l.key === e.key) {
        found = true;
        if (l.value !== e.value) {
          const indent = /^\s*/.exec(l.text)![0];
          const sep = /=\s/.test(l.text) || /\s=/.test(l.text) ? " = " : "=";
          l.text = `${indent}${e.key}${sep}${e.value}`;
          l.value = e.value;
        }
      }
    }
    if (found) continue;
    // Last line that belongs to the section (header or key or comment), else append a new section.
    let at = -1;
    for (let i = 0; i < lines.length; i++) if (lines[i].section === e.section && (lines[i].key || /^\s*\[/.test(lines[i].text) || (e.section === "DEFAULT" && i === 0))) at = i;
    const entry: Line = { text: `${e.key} = ${e.value}`, section: e.section, key: e.key, value: e.value };
    if (at >= 0) {
      lines.splice(at + 1, 0, entry);
    } else {
      while (lines.length && lines[lines.length - 1].text.trim() === "") lines.pop();
      if (lines.length) lines.push({ text: "", section: e.section });
      lines.push({ text: `[${e.section}]`, section: e.section }, entry, { text: "", section: e.section });
    }
  }
  const out = lines.map((l) => l.text).join("\n");
  return { text: out, changed: out !== text };
}

/** The seed's "remove everything else": only the given keys, grouped by section. */
export function iniOnly(edits: IniEdit[]): string {
  const bySection = new Map<string, IniEdit[]>();
  for (const e of edits) bySection.set(e.section, [...(bySection.get(e.section) ?? []), e]);
  return [...bySection.entries()].map(([s, es]) => `[${s}]\n${es.map((e) => `${e.key} = ${e.value}`).join("\n")}\n`).join("\n");
}

/** A comma-separated list value (e.g. container_formats) with `item` added when missing. */
export function withListItem(value: string | undefined, item: string): string {
  const items = (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return items.includes(item) ? items.join(",") : [...items, item].join(",");
}
