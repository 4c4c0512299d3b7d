// Parses and analyses KQL queries with Microsoft's Kusto language service
// (@kusto/language-service-next, pinned in package.json) against a declared database schema.
// stdin: {"tables": {"traces": [["timestamp", "datetime"], ...]}, "queries": {"name": "text"}}
// stdout: {"name": {"diagnostics": [{severity, code, message, start}], "customDimensions": [...],
//                   "tables": [...], "comparisons": [[field, "literal"], ...]}}
// Each customDimensions entry is a field the query reads: customDimensions.x or customDimensions["x"].
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const service = path.join(__dirname, '..', '..', '..', 'node_modules', '@kusto', 'language-service-next');
require(path.join(service, 'bridge.js'));
require(path.join(service, 'Kusto.Language.Bridge.js'));
/* global Kusto, Bridge */
const K = Kusto.Language;
const S = K.Symbols;
const Syntax = K.Syntax;

const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const tables = Object.entries(input.tables).map(([name, columns]) => {
  const schema = '(' + columns.map(([column, type]) => `['${column}']:${type}`).join(', ') + ')';
  return new S.TableSymbol.$ctor7(name, schema, '');
});
const database = new S.DatabaseSymbol.$ctor3('appinsights', null, Bridge.toList(tables), false);
const globals = K.GlobalState.Default.WithDatabase(database);

function unquote(text) {
  const t = text.trim();
  return /^(['"]).*\1$/.test(t) ? t.slice(1, -1) : t;
}

function tablesUsed(root) {
  const found = new Set();
  root.WalkElements((element) => {
    if (Bridge.is(element, Syntax.NameReference) && Bridge.is(element.ReferencedSymbol, S.TableSymbol)) {
      found.add(element.ReferencedSymbol.Name);
    }
  });
  return [...found].sort();
}

function dimensionsRead(root) {
  const found = new Set();
  root.WalkElements((element) => {
    if (Bridge.is(element, Syntax.PathExpression)) {
      if (element.Expression.toString().trim() === 'customDimensions') {
        found.add(unquote(element.Selector.toString()));
      }
    } else if (Bridge.is(element, Syntax.ElementExpression)) {
      if (element.Expression.toString().trim() === 'customDimensions') {
        found.add(unquote(element.Selector.toString().replace(/^\s*\[|\]\s*$/g, '')));
      }
    }
  });
  return [...found].sort();
}

// Comparisons of a field with a string literal: phase == "failed",
// tostring(customDimensions.outcome) == "poisoned" (== and != only). [field, literal] pairs.
const FIELD = /^\s*(?:tostring\(\s*customDimensions(?:\.|\[['"])(\w+)(?:['"]\])?\s*\)|(\w+))\s*$/;
function comparisons(root) {
  const found = [];
  const kinds = [Syntax.SyntaxKind.EqualExpression, Syntax.SyntaxKind.NotEqualExpression];
  root.WalkElements((element) => {
    if (!Bridge.is(element, Syntax.BinaryExpression) || !kinds.includes(element.Kind)) return;
    const right = element.Right;
    if (!Bridge.is(right, Syntax.LiteralExpression) || right.Kind !== Syntax.SyntaxKind.StringLiteralExpression) return;
    const match = FIELD.exec(element.Left.toString());
    if (match) found.push([match[1] || match[2], String(right.LiteralValue)]);
  });
  return found;
}

const out = {};
for (const [name, text] of Object.entries(input.queries)) {
  const code = K.KustoCode.ParseAndAnalyze(text, globals);
  const list = code.GetDiagnostics();
  const diagnostics = [];
  for (let i = 0; i < list.Count; i++) {
    const d = list.getItem(i);
    diagnostics.push({ severity: String(d.Severity), code: d.Code, message: d.Message, start: d.Start });
  }
  out[name] = {
    diagnostics,
    customDimensions: dimensionsRead(code.Syntax),
    tables: tablesUsed(code.Syntax),
    comparisons: comparisons(code.Syntax),
  };
}
process.stdout.write(JSON.stringify(out));
