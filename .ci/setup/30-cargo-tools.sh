#!/usr/bin/env bash
# cargo-deny and cargo-machete, for the dependency checks of .ci/run.
# Sourced by .ci/run. Idempotent: each tool is built from crates.io
# (`cargo install --locked`, a pinned version) only when that version is not
# installed already. From nothing it takes about 10 minutes on 2 cores
# (cargo-deny ~7, cargo-machete ~2.5); once installed, nothing.

ci_cargo_tool() {
    local crate="$1" version="$2"
    # `cargo deny --version` prints "cargo-deny X.Y.Z", `cargo machete
    # --version` "X.Y.Z".
    if cargo "${crate#cargo-}" --version 2>/dev/null | grep -qw -- "$version"; then
        echo "$crate $version: already installed"
        return 0
    fi
    cargo install --locked "$crate" --version "=$version"
}

ci_cargo_tool cargo-deny 0.20.2
ci_cargo_tool cargo-machete 0.9.2
