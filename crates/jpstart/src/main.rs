//! `jpstart`: the server, the operator's tools and the partner's client in
//! one binary. This file only parses the command line and calls libraries.

mod admin_cmd;
mod admin_partner_users;
mod admin_users;
mod catalog;
mod cli;
mod partner;
mod serve_cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("jpstart: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve(args) => serve_cmd::run(*args).await,
            cli::Command::Admin(args) => admin_cmd::run(args).await,
            partner_command => partner::run(partner_command).await,
        }
    })
}
