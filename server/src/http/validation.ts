import { Ajv, type Options } from 'ajv';
import addFormatsImport from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import { TEXT_FORMATS } from '../util/schema.js';
import { isDicomString, isFreeText, isPastDateTime, isPersonName, isSingleLine } from '../util/text-formats.js';

// ajv-formats is CommonJS with a default export; under NodeNext its type is the module object.
const addFormats = addFormatsImport as unknown as (ajv: Ajv) => Ajv;

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ allErrors: true, removeAdditional: true, useDefaults: true, strict: false, ...options });
  addFormats(ajv);
  ajv.addFormat(TEXT_FORMATS.singleLine, { type: 'string', validate: isSingleLine });
  ajv.addFormat(TEXT_FORMATS.dicomString, { type: 'string', validate: isDicomString });
  ajv.addFormat(TEXT_FORMATS.personName, { type: 'string', validate: isPersonName });
  ajv.addFormat(TEXT_FORMATS.freeText, { type: 'string', validate: isFreeText });
  // Evaluated per request: "now" moves.
  ajv.addFormat(TEXT_FORMATS.pastDateTime, { type: 'string', validate: (value: string) => isPastDateTime(value) });
  return ajv;
}

/**
 * JSON bodies are validated without type coercion: `"25"` for an integer field is a client bug
 * and is refused, not silently converted. Query strings and path parameters are text by nature
 * and are coerced to the declared types.
 */
export function installValidation(app: FastifyInstance): void {
  const strict = makeAjv({ coerceTypes: false });
  const coercing = makeAjv({ coerceTypes: 'array' });
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strict : coercing;
    return ajv.compile(schema);
  });
}
