//! Logs: on stdout for `serve`, stderr for other commands so their output stays clean;
//! human-readable on a terminal and JSON lines otherwise (`log.format = "auto"`), or as
//! configured. `RUST_LOG` overrides `log.level`. With `telemetry.otlp_endpoint` the request and
//! job spans are also exported as traces (`telemetry`); the log filter does not apply to them.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{LogConfig, LogFormat, TelemetryConfig};

type Boxed = Box<dyn Layer<Registry> + Send + Sync>;

pub fn init(cfg: &LogConfig, telemetry: &TelemetryConfig, to_stderr: bool) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = if to_stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let json = match cfg.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !terminal,
    };
    let base = tracing_subscriber::fmt::layer()
        .with_target(true)
        .with_ansi(terminal && !json);
    let logs: Boxed = match (json, to_stderr) {
        (true, false) => base
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .boxed(),
        (true, true) => base
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(std::io::stderr)
            .boxed(),
        (false, false) => base.boxed(),
        (false, true) => base.with_writer(std::io::stderr).boxed(),
    };
    let mut layers: Vec<Boxed> = vec![logs.with_filter(filter).boxed()];
    layers.extend(crate::telemetry::layer(telemetry)?.map(Layer::boxed));
    // A second init (tests) keeps the first subscriber.
    let _ = Registry::default().with(layers).try_init();
    Ok(())
}
