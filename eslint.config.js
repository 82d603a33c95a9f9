// Lint rules for the whole repository. Type-aware (typescript-eslint's strict + stylistic
// type-checked sets) with the handful of rules this code base turns off or tunes said below,
// and the layer order of docs/architecture.md enforced as import restrictions.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Lower layers: they never reach up into the HTTP edge or the feature modules. */
const LOWER_LAYERS = ['db', 'storage', 'dicom', 'dimse', 'imaging', 'bus', 'util'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'coverage/**', '.stryker-tmp/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    rules: {
      // `!` marks an invariant the code just established (a regex group that matched, an index
      // inside a typed array's bounds); noUncheckedIndexedAccess is off, so these are many and
      // rewriting each as a runtime check would hide the real ones.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Numbers and booleans read fine in messages and keys.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
    },
  },
  {
    files: ['**/*.test.ts', 'server/test/**/*.ts', 'server/test-support/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Tests and benches read response JSON of arbitrary shape and assert on it field by field.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Fakes implement async interfaces without awaiting anything.
      '@typescript-eslint/require-await': 'off',
      // node:test's describe/it/test return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', name: ['describe', 'it', 'test', 'suite'], package: 'node:test' }] },
      ],
    },
  },
  {
    files: LOWER_LAYERS.map((layer) => `server/src/${layer}/**/*.ts`),
    // Tests of a lower layer may use a simulator from modules/ to make their input frames.
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/http/*', '**/modules/*', '**/app.js', '**/config.js'],
              message:
                'Lower layers (db, storage, dicom, dimse, imaging, bus, util) must not import the HTTP edge, feature modules or app wiring.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['server/src/modules/**/*.ts'],
    ignores: ['server/src/modules/**/routes.ts', 'server/src/modules/**/*routes*.ts', 'server/src/modules/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/http/*'], message: 'Only routes speak HTTP: services and repositories raise domain errors and return data.' },
          ],
        },
      ],
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
