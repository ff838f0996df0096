//! Real kubectl (Go's spdystream) reading SPDY header blocks sent as zlib stored blocks, the
//! form tetherd sends to real kubelets: port-forward over the tunnel and over SPDY, and exec
//! over SPDY.

use crate::exec::exec_cases;
use crate::harness::{Env, Kubectl};
use crate::portforward::pf_cases;

#[test]
fn kubectl_reads_stored_header_blocks() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = Env::start(|c| c.stored_spdy_headers = true);
    pf_cases(&kubectl, &env);
    pf_cases(&kubectl.clone().with_env("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false"), &env);
    exec_cases(&kubectl.with_env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false"), &env);
}
