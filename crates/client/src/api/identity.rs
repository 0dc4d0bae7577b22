//! Which engine answers and what it offers, gathered once per client: `GET /` where the
//! engine has it, `GET _nodes/_local` where it refuses it (Elasticsearch 8's
//! integration-test server answers 405) and, on Elasticsearch, for the installed modules
//! that decide point-in-time. The decision itself is [`Capabilities::of`].

use serde_json::Value;

use crate::engine::{LOCAL_NODE_FILTER, extensions_of_local_node};
use crate::{
    Capabilities, Client, ClientError, Distribution, EngineFacts, EngineInfo, EngineRequest,
};

impl Client {
    /// Which engine this is (asked once, then cached with its capabilities).
    pub async fn engine_info(&self) -> Result<EngineInfo, ClientError> {
        Ok(self.engine().await?.0.clone())
    }

    /// What the engine offers (decided once, then cached). Ask this, never the version.
    pub async fn capabilities(&self) -> Result<Capabilities, ClientError> {
        Ok(self.engine().await?.1.clone())
    }

    async fn engine(&self) -> Result<&(EngineInfo, Capabilities), ClientError> {
        self.engine_cell()
            .get_or_try_init(|| async {
                let facts = self.gather_facts().await?;
                let capabilities = Capabilities::of(&facts);
                tracing::debug!(
                    engine = %facts.info.distribution,
                    version = %facts.info.version,
                    ?capabilities,
                    "engine capabilities"
                );
                Ok((facts.info, capabilities))
            })
            .await
    }

    /// Asks the root endpoint and, where it is refused or the engine is Elasticsearch
    /// (whose x-pack decides point-in-time), the answering node's info.
    async fn gather_facts(&self) -> Result<EngineFacts, ClientError> {
        let root_request = EngineRequest::get("");
        let root = self.send_raw(&root_request).await?;
        if matches!(root.status, 401 | 403) {
            return Err(self.status_error(&root_request, &root));
        }
        let mut product_header = is_elasticsearch(root.product.as_deref());
        let from_root = (root.status < 300)
            .then(|| serde_json::from_slice::<Value>(&root.body).ok())
            .flatten()
            .and_then(|json| EngineInfo::from_root(&json));
        // OpenSearch before 2.9 has nothing the node's plugins would decide.
        if let Some(info) = &from_root
            && info.distribution == Distribution::OpenSearch
            && (info.version.major, info.version.minor) < (2, 9)
        {
            return Ok(EngineFacts {
                info: info.clone(),
                extensions: None,
                product_header,
            });
        }
        let nodes_request = EngineRequest::get("_nodes/_local")
            .idempotent(true)
            .query("filter_path", LOCAL_NODE_FILTER);
        let nodes = match self.send(&nodes_request).await {
            Ok(response) => {
                product_header |= is_elasticsearch(response.product.as_deref());
                Some(response.json::<Value>(nodes_request.method, &nodes_request.path)?)
            }
            // The root answered: only the module list is missing, and without it the
            // decision assumes what the version implies.
            Err(e) if from_root.is_some() => {
                tracing::debug!(error = %e, "cannot list the engine's modules");
                None
            }
            Err(e) => return Err(e),
        };
        let info = match from_root {
            Some(info) => info,
            None => nodes
                .as_ref()
                .and_then(|n| EngineInfo::from_local_node(n, product_header))
                .ok_or_else(|| ClientError::Decode {
                    method: "GET",
                    path: "/ and _nodes/_local".into(),
                    reason: format!(
                        "neither names a version (GET / answered HTTP {}): this is not Elasticsearch or OpenSearch; check the engine URL",
                        root.status
                    ),
                })?,
        };
        Ok(EngineFacts {
            info,
            extensions: nodes.as_ref().map(extensions_of_local_node),
            product_header,
        })
    }
}

fn is_elasticsearch(product: Option<&str>) -> bool {
    product.is_some_and(|p| p.eq_ignore_ascii_case("Elasticsearch"))
}
