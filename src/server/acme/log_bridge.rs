//! rustls-acme's `log` records forwarded to `tracing`, where the receiver's logs go.

/// rustls-acme reports the steps of an order through the `log` crate; the receiver logs with `tracing`. Only
/// rustls-acme's records are forwarded, so enabling this changes nothing else.
pub(super) fn install() {
    static BRIDGE: LogBridge = LogBridge;
    if log::set_logger(&BRIDGE).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

struct LogBridge;

impl log::Log for LogBridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("rustls_acme")
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = record.args();
        match record.level() {
            log::Level::Error => tracing::error!("ACME: {message}"),
            log::Level::Warn => tracing::warn!("ACME: {message}"),
            log::Level::Info => tracing::info!("ACME: {message}"),
            log::Level::Debug => tracing::debug!("ACME: {message}"),
            log::Level::Trace => tracing::trace!("ACME: {message}"),
        }
    }

    fn flush(&self) {}
}
