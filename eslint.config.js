// Lint rules: ESLint's and typescript-eslint's recommended sets, plus no `any`.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/", "**/node_modules/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
      // Layout enums are offset tables: two fields may share a value (a count and an index).
      "@typescript-eslint/no-duplicate-enum-values": "off",
    },
  },
);
