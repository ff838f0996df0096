//! How the daemon was started: the names `GetInfo`'s `launch` carries, and what clients decide on
//! them. The daemon says it; the CLI reads it back through [`Launch::from_name`], never by
//! comparing text.

/// How the daemon was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// By hand, in a terminal.
    Foreground,
    /// By a client that found no daemon (`--log-file`).
    Autostart,
    /// As a systemd user service.
    Systemd,
    /// Socket-activated: systemd holds the listening socket and passed it in.
    SystemdSocket,
    /// As a launchd agent.
    Launchd,
}

impl Launch {
    const ALL: [Self; 5] =
        [Self::Foreground, Self::Autostart, Self::Systemd, Self::SystemdSocket, Self::Launchd];

    /// The name `GetInfo` reports.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Foreground => "foreground",
            Self::Autostart => "autostart",
            Self::Systemd => "systemd",
            Self::SystemdSocket => "systemd-socket",
            Self::Launchd => "launchd",
        }
    }

    /// The launch `GetInfo` named; `None` for a name this client does not know (a newer daemon).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// In words, for people.
    #[must_use]
    pub fn words(self) -> &'static str {
        match self {
            Self::Foreground => "started by hand",
            Self::Autostart => "auto-started by a tether client",
            Self::Systemd => "a systemd user service",
            Self::SystemdSocket => "socket-activated by systemd",
            Self::Launchd => "a launchd agent",
        }
    }

    /// Whether a service manager runs the daemon (and would start it again if it stopped).
    #[must_use]
    pub fn managed(self) -> bool {
        matches!(self, Self::Systemd | Self::SystemdSocket | Self::Launchd)
    }

    /// Whether the daemon logs to systemd's journal.
    #[must_use]
    pub fn journal(self) -> bool {
        matches!(self, Self::Systemd | Self::SystemdSocket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for launch in Launch::ALL {
            assert_eq!(Launch::from_name(launch.as_str()), Some(launch));
        }
        assert_eq!(Launch::from_name("cron"), None);
        assert_eq!(Launch::from_name(""), None);
    }
}
