// Package readmecheck holds the test that keeps README.md honest about the repository: every
// file, directory, test and make target it names exists. It has no code of its own.
package readmecheck
