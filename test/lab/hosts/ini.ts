/**
 * Reading OpenStack config files the way the services do (oslo.config's iniparser), so that the
 * lab hosts' files decide the lab's behaviour with the services' own rules:
 *
 *  - `[section]` headers; `key = value` or `key: value` (the first of `=`/`:` separates);
 *  - whole-line comments start with `#` or `;`; there are no inline comments (`a = b # c` is the
 *    value "b # c");
 *  - the value is stripped, and one pair of matching surrounding quotes is removed;
 *  - a line starting with a space or tab continues the previous value (joined with "\n"); a blank
 *    line ends it;
 *  - a key given twice: the last one wins; several files: the later file wins;
 *  - section names: "DEFAULT" in any case is DEFAULT, other names are compared in lower case;
 *  - errors are oslo's: a key before any section, a line with neither `=` nor `:`, a header without
 *    `]`, an empty key, a continuation with nothing to continue.
 */

export class IniParseError extends Error {
  constructor(
    readonly lineno: number,
    readonly reason: string,
    readonly line: string,
  ) {
    super(`at line ${lineno}, ${reason}: ${pyRepr(line)}`);
    this.name = "ParseError";
  }
}

/** section -> key -> every value given, in order. */
export type IniData = Map<string, Map<string, string[]>>;

/** Python's repr() of a str, for oslo-like messages. */
export function pyRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s
    .replace(/\\/g, "\\\\")
    .replace(/\t/g, "\\t")
    .replace(/\r/g, "\\r")
    .replace(/\n/g, "\\n")
    .replace(new RegExp(quote, "g"), `\\${quote}`);
  return `${quote}${body}${quote}`;
}

export function normalizeSection(name: string): string {
  return name.toUpperCase() === "DEFAULT" ? "DEFAULT" : name.toLowerCase();
}

/** Parse one file; throws IniParseError. */
export function parseIni(text: string): IniData {
  const data: IniData = new Map();
  let section: string | null = null;
  let key: string | null = null;
  let value: string[] = [];
  let keyLine = 0;
  let keyText = "";

  const flush = () => {
    if (key === null) return;
    if (section === null) throw new IniParseError(keyLine, "Section must be started before assignment", keyText);
    let sec = data.get(section);
    if (!sec) data.set(section, (sec = new Map()));
    const values = sec.get(key) ?? [];
    values.push(value.join("\n"));
    sec.set(key, values);
    key = null;
    value = [];
  };

  const lines = text.split("\n");
  // A trailing newline does not make an extra (blank) line.
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  lines.forEach((raw, i) => {
    const lineno = i + 1;
    const line = raw.replace(/\s+$/, "");
    if (line === "") {
      flush();
      return;
    }
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (key === null) throw new IniParseError(lineno, "Unexpected continuation line", line);
      value.push(line.replace(/^\s+/, ""));
      return;
    }
    flush();
    if (line.startsWith("[")) {
      if (!line.endsWith("]")) throw new IniParseError(lineno, "Invalid section (must end with ])", line);
      if (line.length <= 2) throw new IniParseError(lineno, "Empty section name", line);
      section = normalizeSection(line.slice(1, -1));
      if (!data.has(section)) data.set(section, new Map());
      return;
    }
    if (line.startsWith("#") || line.startsWith(";")) return;
    const colon = line.indexOf(":");
    const equal = line.indexOf("=");
    if (colon < 0 && equal < 0) throw new IniParseError(lineno, "No ':' or '=' found in assignment", line);
    const at = colon < 0 || (equal >= 0 && equal < colon) ? equal : colon;
    const k = line.slice(0, at).trim();
    let v = line.slice(at + 1).trim();
    if (v.length >= 2 && v[0] === v[v.length - 1] && (v[0] === '"' || v[0] === "'")) v = v.slice(1, -1);
    if (!k) throw new IniParseError(lineno, "Key cannot be empty", line);
    key = k;
    value = [v];
    keyLine = lineno;
    keyText = line;
  });
  flush();
  return data;
}

/** The value in effect: the last one given, in the last file that gives it. */
export function iniValue(files: IniData | IniData[], section: string, key: string): string | undefined {
  const list = Array.isArray(files) ? files : [files];
  const sec = normalizeSection(section);
  for (let i = list.length - 1; i >= 0; i--) {
    const values = list[i].get(sec)?.get(key);
    if (values && values.length) return values[values.length - 1];
  }
  return undefined;
}

/** oslo.config ListOpt: comma-separated, items stripped, empty items dropped. */
export function parseList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
