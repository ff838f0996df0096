//! The resources the emulated cluster serves, with their API paths and discovery facts.

/// A served resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// core/v1 namespaces (cluster-scoped).
    Namespaces,
    /// core/v1 pods.
    Pods,
    /// core/v1 services.
    Services,
    /// core/v1 endpoints.
    Endpoints,
    /// apps/v1 deployments.
    Deployments,
    /// apps/v1 statefulsets.
    StatefulSets,
}

impl Resource {
    /// Every served resource.
    pub const ALL: [Self; 6] = [
        Self::Namespaces,
        Self::Pods,
        Self::Services,
        Self::Endpoints,
        Self::Deployments,
        Self::StatefulSets,
    ];

    /// The plural name used in paths.
    #[must_use]
    pub fn plural(self) -> &'static str {
        match self {
            Self::Namespaces => "namespaces",
            Self::Pods => "pods",
            Self::Services => "services",
            Self::Endpoints => "endpoints",
            Self::Deployments => "deployments",
            Self::StatefulSets => "statefulsets",
        }
    }

    /// The name in the apiserver's messages: the plural, with the group when not core
    /// (`deployments.apps "web" not found`).
    #[must_use]
    pub fn qualified(self) -> &'static str {
        match self {
            Self::Deployments => "deployments.apps",
            Self::StatefulSets => "statefulsets.apps",
            other => other.plural(),
        }
    }

    /// The singular name for discovery.
    #[must_use]
    pub fn singular(self) -> &'static str {
        match self {
            Self::Namespaces => "namespace",
            Self::Pods => "pod",
            Self::Services => "service",
            Self::Endpoints => "endpoints",
            Self::Deployments => "deployment",
            Self::StatefulSets => "statefulset",
        }
    }

    /// The kind.
    #[must_use]
    pub fn kind(self) -> &'static str {
        match self {
            Self::Namespaces => "Namespace",
            Self::Pods => "Pod",
            Self::Services => "Service",
            Self::Endpoints => "Endpoints",
            Self::Deployments => "Deployment",
            Self::StatefulSets => "StatefulSet",
        }
    }

    /// Short names for discovery (`kubectl get svc` and the like).
    #[must_use]
    pub fn short_names(self) -> &'static [&'static str] {
        match self {
            Self::Namespaces => &["ns"],
            Self::Pods => &["po"],
            Self::Services => &["svc"],
            Self::Endpoints => &["ep"],
            Self::Deployments => &["deploy"],
            Self::StatefulSets => &["sts"],
        }
    }

    /// `v1` or `apps/v1`.
    #[must_use]
    pub fn api_version(self) -> &'static str {
        match self {
            Self::Deployments | Self::StatefulSets => "apps/v1",
            _ => "v1",
        }
    }

    /// Whether objects live in a namespace.
    #[must_use]
    pub fn namespaced(self) -> bool {
        self != Self::Namespaces
    }

    /// Finds a resource from its API group version and plural name.
    #[must_use]
    pub fn from_path(group_version: &str, plural: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.api_version() == group_version && r.plural() == plural)
    }
}
