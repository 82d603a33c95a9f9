#!/usr/bin/env node
// Extracts every request sample of the two API documents into one JSON fixture:
//   node scripts/extract-spec-samples.mjs <spec dir> <out.json>
// <spec dir> holds `dr-console-api.zh.txt` (the DR console document, exported from an API tool as
// flattened text) and `diagnosis-api.zh.md` (the diagnosis document, Markdown). Each endpoint
// becomes one sample: method, path as written, path variables, query, body (the document's own
// request example where it gives one, else built from its parameter table's default values), the
// table's fields, and the sample reply where given. Values the document leaves blank stay blank:
// the replay test fills them (ids that must exist, passwords) and says so.
import fs from 'node:fs';
import path from 'node:path';

const [specDir, outFile] = process.argv.slice(2);
if (!specDir || !outFile) {
  console.error('usage: node scripts/extract-spec-samples.mjs <spec dir> <out.json>');
  process.exit(2);
}

const METHOD_LINE = /^(GET|POST|PUT|DELETE|PATCH) (\/\S*)\s*$/;
const CJK = /[\u3000-\u9fff\uff00-\uffef]/;
const TYPES = new Set([
  'string',
  'number',
  'boolean',
  'object',
  'int32',
  'int64',
  'float',
  'file',
  'array[object]',
  'array[string]',
  'array[number]',
]);

/** The JSON value starting at `text[start]` (an object or array) and where it ends, or undefined. */
function jsonAt(text, start) {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i += 1) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth += 1;
    else if (c === '}' || c === ']') {
      depth -= 1;
      if (depth === 0) {
        try {
          return { value: JSON.parse(text.slice(start, i + 1)), end: i + 1 };
        } catch {
          return undefined;
        }
      }
    }
  }
  return undefined;
}

/** Path variables as written: `{id}` and `:id` (the placeholder `pub/Image/xxx/xxx/xxx` is left to the replay). */
function pathVariables(p) {
  const names = [];
  for (const m of p.matchAll(/\{([^}]+)\}|:([A-Za-z_]+)/g)) names.push(m[1] ?? m[2]);
  return names;
}

function isEnvelope(value) {
  return value && typeof value === 'object' && !Array.isArray(value) && ('code' in value || 'success' in value);
}

// ---------------------------------------------------------------- DR console document (text)

/** The text between a section marker and the next section marker of a DR endpoint block. */
function section(block, marker) {
  const at = block.indexOf(marker);
  if (at < 0) return undefined;
  const rest = block.slice(at + marker.length);
  const end = rest.search(/请求头|请求参数\(Query Param\)|请求体\(Request Body\)|响应体|地址参数\(Path Variable\)/);
  return end < 0 ? rest : rest.slice(0, end);
}

function tokens(text) {
  return text
    .replace(/\|/g, ' ')
    .split(/\s+/)
    .filter((t) => t && t !== '⇥');
}

const NAME = /^(?!(?:true|false)$)[a-z][a-z0-9_]*$/;

/**
 * Query parameters of a DR table "参数名称 默认值 描述": a snake_case name, then its default when
 * the next cell is a value (no CJK), then a description. A description listing options
 * ("可选项 …") names values, not parameters.
 */
function drQuery(text) {
  const list = tokens(text.replace(/^\s*参数名称 默认值 描述/, ''));
  const params = [];
  let current = null;
  let inOptions = false;
  for (let i = 0; i < list.length; i += 1) {
    const t = list[i];
    if (t.startsWith('可选项')) inOptions = true;
    else if (inOptions && CJK.test(t)) inOptions = false;
    // "a 或 b" lists alternatives of a value; a lowercase word after 或 is one of them.
    if (!NAME.test(t) || inOptions || list[i - 1] === '或') {
      if (current) current.description = `${current.description} ${t}`.trim();
      continue;
    }
    current = { name: t, description: '' };
    params.push(current);
    const next = list[i + 1];
    if (next !== undefined && !CJK.test(next) && next !== '或') current.default = list[(i += 1)];
  }
  return params;
}

function coerce(type, raw) {
  if (raw === undefined) return undefined;
  if (type === 'number' || type === 'int32' || type === 'int64' || type === 'float') {
    const n = Number(raw);
    return Number.isFinite(n) ? n : raw;
  }
  if (type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  return raw;
}

/**
 * Body fields of a DR table "参数名称 数据类型 默认值 不为空 描述": `name type [default…] required
 * [description…]`, children of an object or array marked `⇥`. Names glued to the previous
 * description by the export ("芯片号variety") are cut at the last CJK character; a name still
 * not in the sample reply is cut to its longest suffix that is.
 */
function drBodyFields(text, replyKeys) {
  const raw = [];
  const lineStart = new Set();
  for (const [n, line] of text
    .replace(/^\s*参数名称 数据类型 默认值 不为空 描述/, '')
    .split('\n')
    .entries()) {
    line
      .split(/\s+/)
      .filter(Boolean)
      .forEach((t, j) => {
        // A name at the start of a continuation line was glued to the description above it.
        if (j === 0 && n > 0) lineStart.add(raw.length);
        raw.push(t);
      });
  }
  const typeAt = [];
  for (let i = 1; i < raw.length; i += 1) if (TYPES.has(raw[i]) && /[a-z_]$/.test(raw[i - 1])) typeAt.push(i);
  const fields = [];
  for (const [k, ti] of typeAt.entries()) {
    let name = raw[ti - 1];
    const child = raw[ti - 2] === '⇥';
    name = name.replace(/^.*[^A-Za-z0-9_]/, '');
    if (lineStart.has(ti - 1) && !replyKeys.has(name)) {
      for (let cut = 1; cut < name.length; cut += 1) {
        const suffix = name.slice(cut);
        if (/^[a-z]/.test(suffix) && replyKeys.has(suffix)) {
          name = suffix;
          break;
        }
      }
    }
    const end = k + 1 < typeAt.length ? typeAt[k + 1] - 1 - (raw[typeAt[k + 1] - 2] === '⇥' ? 1 : 0) : raw.length;
    const cells = raw.slice(ti + 1, end);
    let flag = cells.findIndex((c, j) => /^(true|false)$/.test(c) && !/^(true|false)$/.test(cells[j + 1] ?? ''));
    if (flag < 0) flag = cells.length;
    const type = raw[ti];
    const field = { name, type, required: cells[flag] === 'true', description: cells.slice(flag + 1).join(' ') };
    if (flag > 0) field.default = coerce(type, cells.slice(0, flag).join(' '));
    if (child && fields.length) {
      const parent = [...fields].reverse().find((f) => f.type === 'object' || f.type.startsWith('array['));
      if (parent) {
        (parent.children ??= []).push(field);
        continue;
      }
    }
    fields.push(field);
  }
  return fields;
}

/** A body as the table's defaults describe it (fields without a default are left out). */
function bodyFromFields(fields) {
  const body = {};
  for (const f of fields) {
    if (f.type === 'file') continue;
    if (f.type === 'array[object]') body[f.name] = [bodyFromFields(f.children ?? [])];
    else if (f.type.startsWith('array[')) body[f.name] = [];
    else if (f.children) body[f.name] = bodyFromFields(f.children);
    else if (f.default !== undefined) body[f.name] = f.default;
  }
  return body;
}

function collectKeys(value, into = new Set()) {
  if (Array.isArray(value)) value.forEach((v) => collectKeys(v, into));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      into.add(k);
      collectKeys(v, into);
    }
  return into;
}

function drSamples(text) {
  const lines = text.split('\n');
  const starts = [];
  lines.forEach((l, i) => METHOD_LINE.test(l) && starts.push(i));
  return starts.map((start, n) => {
    const end = n + 1 < starts.length ? starts[n + 1] : lines.length;
    const [, method, docPath] = METHOD_LINE.exec(lines[start]);
    const blockLines = lines.slice(start + 1, end);
    const block = blockLines.join('\n');
    const title = blockLines[0] === '接口说明' ? (blockLines[1] ?? '') : '';
    const replyAt = block.search(/● \d{3}: /);
    const head = replyAt < 0 ? block : block.slice(0, replyAt);
    const tail = replyAt < 0 ? '' : block.slice(replyAt);
    const replyFormat = /响应数据格式:(\w+)/.exec(tail)?.[1] ?? null;

    // JSON values after the status line: the reply envelope, then request examples.
    let reply = null;
    const examples = [];
    let labelled = false;
    let examplesLabelled = false;
    for (let i = 0; i < tail.length; i += 1) {
      if (tail.startsWith('请求示例', i) || tail.startsWith('请求body示例', i)) labelled = true;
      if (tail[i] !== '{' && tail[i] !== '[') continue;
      const json = jsonAt(tail, i);
      if (!json) continue;
      if (!labelled && reply === null && isEnvelope(json.value)) reply = json.value;
      else {
        examples.push(json.value);
        if (labelled) examplesLabelled = true;
      }
      labelled = false;
      i = json.end - 1;
    }
    const examplePath = /(?:示例请求 (?:GET|POST|PUT|DELETE) \{\{drurl\}\}|请求示例 )(\/\S+)/.exec(tail)?.[1] ?? null;

    const query = drQuery(section(head, '请求参数(Query Param)') ?? '');
    const bodyText = section(head, '请求体(Request Body)');
    const bodyFields = bodyText ? drBodyFields(bodyText, collectKeys(reply)) : [];
    const pathText = section(head, '地址参数(Path Variable)');
    const multipart = bodyFields.some((f) => f.type === 'file');
    let body = null;
    let bodySource = 'none';
    // JSON after the reply of an endpoint without a request body is an MQTT message, not a request.
    if (examples.length && (bodyText || examplesLabelled)) {
      body = examples[0];
      bodySource = 'example';
    } else if (bodyFields.length) {
      body = bodyFromFields(bodyFields);
      bodySource = 'table';
    }
    return {
      doc: 'dr-console',
      line: start + 1,
      method,
      path: docPath,
      title,
      pathVariables: pathVariables(docPath),
      pathVariableText: pathText ? pathText.replace(/^\s*参数名称 默认值 描述\s*/, '').trim() : '',
      query: Object.fromEntries(query.filter((q) => q.default !== undefined).map((q) => [q.name, q.default])),
      queryParams: query,
      body,
      bodySource,
      bodyFields,
      multipart,
      examplePath,
      replyFormat,
      reply,
    };
  });
}

// ---------------------------------------------------------------- diagnosis document (Markdown)

function diagnosisSamples(text) {
  const lines = text.split('\n');
  const samples = [];
  let heading = '';
  let current = null;
  let pendingLabel = null;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    if (/^#{2,4} /.test(line)) {
      heading = line.replace(/^#+ /, '').trim();
      if (/^## /.test(line)) current = null;
      continue;
    }
    if (/^\*\*(请求体|响应|查询参数)\*\*/.test(line)) {
      pendingLabel = /^\*\*(请求体|响应|查询参数)\*\*/.exec(line)[1];
      continue;
    }
    const fence = /^```(\w*)\s*$/.exec(line);
    if (!fence || line === '```') continue;
    // A fenced block with a language: collect it.
    const blockLines = [];
    let j = i + 1;
    for (; j < lines.length && !/^```\s*$/.test(lines[j]); j += 1) blockLines.push(lines[j]);
    const content = blockLines.join('\n');
    i = j;
    const request = fence[1] === 'http' ? METHOD_LINE.exec(blockLines[0]?.replace(/\s+$/, '') ?? '') : null;
    if (request) {
      const [, method, target] = request;
      const url = new URL(target, 'http://spec.invalid');
      current = {
        doc: 'diagnosis',
        line: i - blockLines.length,
        method,
        path: decodeURIComponent(url.pathname),
        title: heading,
        pathVariables: pathVariables(decodeURIComponent(url.pathname)),
        pathVariableText: '',
        query: Object.fromEntries(url.searchParams),
        queryParams: [],
        body: null,
        bodySource: 'none',
        bodyFields: [],
        multipart: blockLines.slice(1).some((l) => /multipart\/form-data/i.test(l)),
        examplePath: null,
        replyFormat: null,
        reply: null,
      };
      samples.push(current);
      pendingLabel = null;
      continue;
    }
    if (!current || !pendingLabel) continue;
    if (pendingLabel === '请求体') {
      if (fence[1] === 'json') {
        current.body = JSON.parse(content);
        current.bodySource = 'example';
      }
    } else if (pendingLabel === '响应' && fence[1] === 'json') {
      current.reply = JSON.parse(content);
      current.replyFormat = 'JSON';
    }
    pendingLabel = null;
  }
  // Multipart bodies are given as plain text ("files: [DICOM文件1, …]"), not a json fence.
  const plain = /```\n(\w+): \[([^\]]*)\]\n```/g;
  for (const m of text.matchAll(plain)) {
    const at = text.slice(0, m.index).split('\n').length;
    const owner = [...samples].reverse().find((s) => s.line < at);
    if (owner?.multipart) owner.multipartFields = [{ name: m[1], description: m[2] }];
  }
  return samples;
}

// ---------------------------------------------------------------- output

const dr = drSamples(fs.readFileSync(path.join(specDir, 'dr-console-api.zh.txt'), 'utf8'));
const diagnosis = diagnosisSamples(fs.readFileSync(path.join(specDir, 'diagnosis-api.zh.md'), 'utf8'));
const samples = [...dr, ...diagnosis].map((s) => ({ id: `${s.doc}:${s.line} ${s.method} ${s.path}`, ...s }));
const out = {
  note: 'Generated by scripts/extract-spec-samples.mjs from the two API documents; do not edit by hand.',
  documents: { 'dr-console': dr.length, diagnosis: diagnosis.length },
  samples,
};
fs.mkdirSync(path.dirname(outFile), { recursive: true });
// Written as the repository's formatter would (prettier is a dev dependency), so `npm test` stays clean.
let text = `${JSON.stringify(out, null, 2)}\n`;
const prettier = await import('prettier').catch(() => null);
if (prettier) text = await prettier.format(text, { ...(await prettier.resolveConfig(outFile)), filepath: outFile });
fs.writeFileSync(outFile, text);
console.log(`${samples.length} samples (dr-console ${dr.length}, diagnosis ${diagnosis.length}) → ${outFile}`);
