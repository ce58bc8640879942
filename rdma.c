/* rdma.c — the GRASS mailbox over one-sided RDMA (not built yet).
 *
 * This file will hold the remote transport: an RC queue pair set up with
 * rdma_cm, the agent registering only its mailbox (request area
 * remote-writable, response area remote-readable; never target memory),
 * and the viewer driving it with RDMA WRITE and READ alone, so that the
 * watched host's CPU is not on the data path. libibverbs and librdmacm will
 * be opened at run time, as libcuda is, so the binary keeps libc as its
 * only link-time dependency.
 *
 * Until then it is compiled into nothing; see README.md for what exists.
 */
