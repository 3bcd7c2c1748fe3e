// Package layout holds the test that keeps the direction of the imports between Portico's
// packages: only gateway/ and cmd/ import gateway/, the tenant API does not import the dashboard,
// a section (plugins/X) imports no other section (plugins/standard, which gathers them, aside),
// i18n imports nothing of Portico's and the account document nothing but i18n. It has no code of
// its own.
package layout
