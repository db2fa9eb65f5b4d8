// Lint rules that carry the house style: core never imports vscode, the raw gRPC client stays
// inside core/protect, no default exports, no floating promises, type imports spelled as such.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const noDefaultExport = {
  selector: "ExportDefaultDeclaration",
  message: "No default exports: a named export reads the same at every import.",
};

const noRawClient = {
  selector:
    "MemberExpression[object.type='MemberExpression'][object.property.type='Identifier'][object.property.name='client']",
  message: "Call the host's typed method (ProtectHost in core/protect) instead of its raw gRPC client.",
};

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "node_modules/**",
      "extension/proto/gen/**",
      "out/**",
      ".cache/**",
      "test/.artifacts/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            {
              from: "package",
              package: "node:test",
              name: ["test", "it", "describe", "suite", "before", "after", "beforeEach", "afterEach"],
            },
          ],
        },
      ],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "separate-type-imports" }],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/no-unsafe-enum-comparison": "off",
      "no-restricted-syntax": ["error", noDefaultExport],
    },
  },
  {
    // ProtectHost is the one door to the daemon: its typed methods map errors and set deadlines.
    files: ["extension/**/*.ts"],
    ignores: ["extension/core/protect/**"],
    rules: { "no-restricted-syntax": ["error", noDefaultExport, noRawClient] },
  },
  {
    files: ["extension/core/**/*.ts", "extension/cli/**/*.ts", "extension/devhost/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [{ name: "vscode", message: "core/, cli/ and devhost/ must not know VS Code." }],
        },
      ],
    },
  },
  {
    files: ["**/*.mjs", "**/*.js"],
    ...tseslint.configs.disableTypeChecked,
    rules: { ...tseslint.configs.disableTypeChecked.rules, "no-restricted-syntax": "off" },
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: {
        process: "readonly",
        console: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        Buffer: "readonly",
      },
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
);
