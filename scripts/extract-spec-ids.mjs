#!/usr/bin/env node
/**
 * Extracts every protocol identifier the API documents use, with the meaning around each
 * occurrence, into the fixture `server/test/specids.test.ts` checks against a running server.
 *
 *   node scripts/extract-spec-ids.mjs <dr-console-api.zh.txt> <diagnosis-api.zh.md> [out.json]
 *
 * It reads every JSON sample in both documents (balanced braces, so samples spanning lines and
 * samples followed by prose are found) and the plain text (ids named only in parameter tables):
 * patient types, body parts, procedures (with the views their series hold), views (names,
 * region, pictograms, the body part they belong to), APR categories and patient sizes, the option
 * groups and the registration's enumerated values, and the diagnosis document's roles, permissions
 * and configuration keys. Output is sorted and formatted, so a rerun on the same
 * documents gives the same file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import prettier from 'prettier';

const [drPath, diagnosisPath, outPath = 'server/test/fixtures/spec-ids.json'] = process.argv.slice(2);
if (!drPath || !diagnosisPath) {
  console.error('usage: node scripts/extract-spec-ids.mjs <dr-console-api.zh.txt> <diagnosis-api.zh.md> [out.json]');
  process.exit(2);
}

/** Every top-level JSON value in a text that parses (objects and arrays starting at `{`). */
function jsonSamples(text) {
  const found = [];
  let i = 0;
  while ((i = text.indexOf('{', i)) !== -1) {
    let depth = 0;
    let inString = false;
    let end = -1;
    for (let j = i; j < text.length; j++) {
      const c = text[j];
      if (inString) {
        if (c === '\\') j++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        end = j;
        break;
      }
    }
    if (end === -1) break;
    try {
      found.push(JSON.parse(text.slice(i, end + 1)));
      i = end + 1;
    } catch {
      i += 1; // not JSON from here (prose or a truncated sample): try the next brace
    }
  }
  return found;
}

/** Calls `visit(object, parent)` for every object nested in a sample. */
function walk(value, visit, parent) {
  if (Array.isArray(value)) for (const item of value) walk(item, visit, parent);
  else if (value && typeof value === 'object') {
    visit(value, parent);
    for (const child of Object.values(value)) walk(child, visit, value);
  }
}

const productOf = (id, stated) =>
  /^View_(Dog|Cat|Rabbit)_|^(Dog|Cat|Rabbit)(_|$)/.test(id) ? 'VETDROS' : stated === 'VETDROS' ? 'VETDROS' : 'DROS';

const patientTypes = new Map();
const bodyParts = new Map();
const procedures = new Map();
const views = new Map();
const configs = new Map();
const patientSizes = new Set();
const roles = new Map();
const roleIds = new Set();

const entry = (map, key, init) => {
  if (!map.has(key)) map.set(key, init);
  return map.get(key);
};
const setOnce = (target, field, value) => {
  if (value !== undefined && value !== null && value !== '' && target[field] === undefined) target[field] = value;
};

const dr = readFileSync(drPath, 'utf8');
const diagnosis = readFileSync(diagnosisPath, 'utf8');

for (const sample of [...jsonSamples(dr), ...jsonSamples(diagnosis)]) {
  walk(sample, (o, parent) => {
    if (typeof o.patient_type_id === 'string') {
      const t = entry(patientTypes, o.patient_type_id, { id: o.patient_type_id, product: productOf(o.patient_type_id, o.product) });
      setOnce(t, 'name', o.patient_type_name);
      if (typeof o.is_enabled === 'boolean') setOnce(t, 'is_enabled', o.is_enabled);
    }
    if (typeof o.patient_type === 'string' && /^[A-Z][A-Za-z]+$/.test(o.patient_type))
      entry(patientTypes, o.patient_type, { id: o.patient_type, product: productOf(o.patient_type, o.product) });
    const partId = o.body_part_id ?? o.body_part;
    if (typeof partId === 'string' && /^[A-Z][A-Za-z]+_/.test(partId)) {
      const b = entry(bodyParts, partId, { id: partId, product: productOf(partId, o.product) });
      if (o.body_part_name) setOnce(b, 'zh', o.body_part_name);
      if (o.body_part_description) setOnce(b, 'en', o.body_part_description);
    }
    if (typeof o.procedure_id === 'string' && o.procedure_id !== '') {
      const p = entry(procedures, o.procedure_id, { id: o.procedure_id, product: productOf(o.procedure_id, o.product) });
      setOnce(p, 'zh', o.procedure_name ?? o.performed_protocol_code_meaning);
      setOnce(p, 'en', o.procedure_other_name);
      setOnce(p, 'body_part_id', o.body_part_id ?? o.body_part);
      for (const field of ['procedure_type', 'procedure_category', 'protocol_laterality']) setOnce(p, field, o[field]);
      // A series names its procedure; its images are views of that procedure.
      if (Array.isArray(o.images)) {
        p.views ??= [];
        for (const image of o.images) if (image.view_id && !p.views.includes(image.view_id)) p.views.push(image.view_id);
      }
    }
    if (typeof o.view_id === 'string') {
      const v = entry(views, o.view_id, { id: o.view_id, product: productOf(o.view_id, o.product) });
      setOnce(v, 'zh', o.view_name ?? o.view_description);
      setOnce(v, 'en', o.view_other_name);
      setOnce(v, 'body_part_id', o.body_part_id ?? parent?.body_part);
      setOnce(v, 'anatomic_region', o.anatomic_region);
      setOnce(v, 'icon', o.view_icon_name);
      for (const field of ['view_big_icon_name', 'view_coach_name']) if (o[field]) (v.pictograms ??= new Set()).add(o[field]);
      if (o.view_icon_name) (v.pictograms ??= new Set()).add(o.view_icon_name);
    }
    if (typeof o.apr_id === 'string' && typeof o.apr_description === 'string') {
      const v = entry(views, o.apr_id, { id: o.apr_id, product: productOf(o.apr_id, o.product) });
      setOnce(v, 'zh', o.apr_description);
      setOnce(v, 'body_part_id', o.body_part_id);
      setOnce(v, 'apr_category', o.category);
      for (const e of o.exposures ?? []) if (e.patient_size) patientSizes.add(e.patient_size);
    }
    // A user sample: its roles hold (at least) the permissions listed with them; `role_ids` name roles by id.
    if (Array.isArray(o.roles) && o.roles.every((r) => typeof r === 'string'))
      for (const role of o.roles) {
        const r = entry(roles, role, { id: role, permissions: new Set() });
        for (const permission of o.permissions ?? []) r.permissions.add(permission);
      }
    for (const roleId of Array.isArray(o.role_ids) ? o.role_ids : []) roleIds.add(roleId);
    if (typeof o.config_key === 'string') {
      configs.set(o.config_key, { key: o.config_key, type: o.config_type, category: o.category, description: o.description });
    }
  });
}

// Ids named only in prose or parameter tables (the registration sample's view and procedure).
for (const [, id] of dr.matchAll(/\b(View_[A-Za-z0-9_]+)/g)) entry(views, id, { id, product: productOf(id) });
for (const [, id] of dr.matchAll(/\b(P\d-\d{4})\b/g)) entry(procedures, id, { id, product: productOf(id) });
// The registration sample pairs a view with a procedure (`views: [{view_id, procedure_id}]`).
const registration = /view_id string (View_[A-Za-z0-9_]+) true [^⇥]*⇥ procedure_id string (P\d-\d{4})/.exec(dr);

// Option groups of `resource/options` (its parameter line) and the values its sample shows.
const groupLine = /group basic 可选项 ([^\n]*)/.exec(dr)?.[1] ?? '';
const optionGroups = [...new Set(['basic', ...groupLine.split(/[^a-z_]+/).filter(Boolean)])].sort();
const optionSample = /dr\.resource\.OptionReply", "option": (\[[^\]]*\])/.exec(dr);
const basicOptions = optionSample ? JSON.parse(optionSample[1]) : [];
// The registration's enumerated fields, from its parameter table.
const registrationTable = dr.slice(dr.indexOf('登记检查信息'), dr.indexOf('PUT /dr/api/v1/auth/study/{id}'));
const registrationEnums = {
  patient_sex: (/patient_sex string \w+ 性别 ([A-Z、]+)/.exec(registrationTable)?.[1] ?? '').split('、').filter(Boolean),
  sex_neutered: [...registrationTable.matchAll(/^([A-Z]+) \(/gm)].map((m) => m[1]),
  pregnancy_status: [...registrationTable.matchAll(/^(\d{4})$/gm)].map((m) => m[1]),
  study_type: [...registrationTable.matchAll(/^(Normal|Emergency) /gm)].map((m) => m[1]),
};

const sorted = (map) =>
  [...map.values()]
    .map((x) => (x.pictograms ? { ...x, pictograms: [...x.pictograms].sort() } : x))
    .sort((a, b) => (a.id ?? a.key).localeCompare(b.id ?? b.key));

const fixture = {
  generatedBy: 'node scripts/extract-spec-ids.mjs <dr-console-api.zh.txt> <diagnosis-api.zh.md>',
  patientTypes: sorted(patientTypes),
  bodyParts: sorted(bodyParts),
  procedures: sorted(procedures),
  views: sorted(views),
  patientSizes: [...patientSizes].sort(),
  configs: sorted(configs),
  roles: [...roles.values()].map((r) => ({ id: r.id, permissions: [...r.permissions].sort() })).sort((a, b) => a.id.localeCompare(b.id)),
  roleIds: [...roleIds].sort(),
  optionGroups,
  basicOptions,
  registrationEnums,
  registration: registration ? { view_id: registration[1], procedure_id: registration[2] } : null,
};
// Formatted as the repository formats JSON, so the checked-in fixture and a rerun are byte-identical.
const options = (await prettier.resolveConfig(outPath)) ?? {};
writeFileSync(outPath, await prettier.format(JSON.stringify(fixture), { ...options, parser: 'json' }));
console.log(
  `${outPath}: ${fixture.patientTypes.length} patient types, ${fixture.bodyParts.length} body parts, ` +
    `${fixture.procedures.length} procedures, ${fixture.views.length} views, ${fixture.configs.length} config keys`,
);
