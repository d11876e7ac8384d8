//! Terminal facts: whether to use colour (`--color`, NO_COLOR, CLICOLOR_FORCE, TTY) and tracing
//! setup.

use std::io::IsTerminal;
use std::sync::OnceLock;

/// `--color`: what the user asked for, which wins over the environment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    // Plain comments: documented values would turn `--help` into the long form.
    // On a terminal, unless `NO_COLOR` is set or `CLICOLOR_FORCE` forces it.
    #[default]
    Auto,
    Always,
    Never,
}

static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Records `--color` once, before anything is printed; anstream, which strips colour from what
/// it writes, follows the same choice.
pub fn init_color(choice: ColorChoice) {
    let _ = CHOICE.set(choice);
    match choice {
        ColorChoice::Auto => {}
        ColorChoice::Always => anstream::ColorChoice::Always.write_global(),
        ColorChoice::Never => anstream::ColorChoice::Never.write_global(),
    }
}

/// Colour on stdout: as `--color` says, else off with `NO_COLOR`, forced by `CLICOLOR_FORCE`,
/// else only on a terminal.
pub fn stdout_color() -> bool {
    color_for(std::io::stdout().is_terminal())
}

/// Colour on stderr, same rules.
pub fn stderr_color() -> bool {
    color_for(std::io::stderr().is_terminal())
}

fn color_for(is_tty: bool) -> bool {
    match CHOICE.get().copied().unwrap_or_default() {
        ColorChoice::Always => return true,
        ColorChoice::Never => return false,
        ColorChoice::Auto => {}
    }
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    if std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    is_tty
}

/// `-v` shows info, `-vv` debug; `RUST_LOG` overrides. Tracing goes to stderr.
pub fn init_tracing(verbose: u8) {
    // aws-config's own warnings (an IMDS probe for a region or credentials) are noise at the
    // default level; `-v` shows them.
    let default = match verbose {
        0 => "warn,aws_config=error",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(stderr_color())
        .without_time()
        .init();
}
