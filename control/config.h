/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riovd's start-up configuration: daemon settings, declared networks and ports, in libconfig's
 * format (see deploy/riovd.conf). An embedded default configuration lets riovd start with no file.
 *
 * Security model: the file is operator input but may be wrong or hostile; every value is checked
 * (types, ranges, lengths) and an error names the file, line and setting.
 */
#ifndef RIOV_CONTROL_CONFIG_H
#define RIOV_CONTROL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RIOV_CFG_STR 256
#define RIOV_CFG_NAME 64
#define RIOV_CFG_MAX_NETS 256
#define RIOV_CFG_MAX_PORTS 1024
#define RIOV_CFG_MAX_VTEPS 1024        /* remote VTEPs over every network (each is a port) */
#define RIOV_CFG_ADDR 20               /* "255.255.255.255/32" and its NUL */
#define RIOV_CFG_MAX_MACS 4096         /* static MACs over every network */
#define RIOV_CFG_MAC 18                /* "02:00:00:00:00:01" and its NUL */
#define RIOV_CFG_MAC_AGING_MIN 10      /* seconds (as Linux's bridge ageing_time); 0 = never */
#define RIOV_CFG_MAC_AGING_MAX 1000000

struct riov_cfg_port {
	char name[RIOV_CFG_NAME];
	char net[RIOV_CFG_NAME];
	char type[16];                 /* "vhost" | "eth" | "uplink" */
	char socket[RIOV_CFG_STR];
	char devargs[RIOV_CFG_STR];
	bool client;
	unsigned queues;
	bool mrg_rxbuf;                /* default true */
	bool in_order;                 /* default true */
	bool event_idx;                /* default true */
	bool indirect;                 /* default true */
	bool packed;                   /* default true: packed virtqueues (VIRTIO_F_RING_PACKED) */
	bool offloads;                 /* default true: checksum and segmentation offloads */
	bool assign;                   /* eth on a PCI function: assign it through riov's VT-d model */
	unsigned domain_id;            /* assign: its domain (0: allocate) */
	unsigned mtu;                  /* 0: the network's */
	char address[RIOV_CFG_ADDR];   /* uplink: its VTEP address, "a.b.c.d/len" */
	char gateway[RIOV_CFG_ADDR];   /* uplink: the underlay's default gateway, "" = none */
};

/* A network's static MAC, "MAC@TARGET" in the file: TARGET an IPv4 address (one of the network's
 * vteps) or a local port's name. */
struct riov_cfg_mac {
	char mac[RIOV_CFG_MAC];        /* as written */
	char target[RIOV_CFG_NAME];
	bool vtep;                     /* target is a remote VTEP's address, else a port's name */
};

struct riov_config {
	char workers[64];              /* CPU list for worker lcores, e.g. "1" or "2-3" */
	int control_cpu;               /* -1: any CPU not used by workers */
	unsigned mbufs;
	unsigned memory_mb;            /* DPDK memory (--no-huge -m) */
	bool hugepages;                /* use hugepages instead of --no-huge */
	char eal_args[RIOV_CFG_STR];   /* extra EAL arguments */
	char socket_dir[RIOV_CFG_STR];
	char eth_devargs_allow[1024];  /* eth port drivers and keys ("drv:key,key; pci"); "" = default */
	char state_dir[RIOV_CFG_STR];
	char rpc_socket[RIOV_CFG_STR];
	char rpc_listen[RIOV_CFG_STR];
	char tls_cert[RIOV_CFG_STR];
	char tls_key[RIOV_CFG_STR];
	char tls_ca[RIOV_CFG_STR];
	char tls_crl[RIOV_CFG_STR];    /* PEM CRL(s) of the client CA(s); "" = no revocation check */
	char tls_roles[1024];          /* certificate identity -> role rules (docs/api.md); "" = legacy
					* OU=admin rule */
	unsigned rpc_max_conns;        /* Unix socket connections at once; 0 = 64 */
	unsigned tls_max_conns;        /* TLS connections at once; 0 = 64 */
	unsigned tls_handshake_timeout_ms; /* from accept to a finished handshake; 0 = 10000 */
	unsigned metrics_max_conns;    /* metrics HTTP connections at once; 0 = 16 */
	unsigned metrics_timeout_ms;   /* one metrics request, from accept to answer sent; 0 = 10000 */
	char metrics_listen[RIOV_CFG_STR];
	unsigned stats_interval;       /* seconds between counter lines in the log; 0 = off */
	unsigned idle_sleep_us;        /* an idle worker sleeps this long between polls; 0 = busy-poll */
	char log_level[RIOV_CFG_STR];  /* log levels (common/log.h riov_log_set()); "" = defaults */
	unsigned mac_aging_s;          /* seconds a learned MAC stays without a frame from it (at most
					* 1.5 times that); 0 = never aged; default 300 */
	/* RDMA peer links (docs/rdma.md): "" = none */
	char rdma_device[64];          /* rdma-core's device name, e.g. "rxe0" */
	unsigned rdma_port;            /* rdma_cm port of every node (default 7471) */
	unsigned rdma_msg_size;        /* bytes of a receive or send buffer (default 65536) */
	unsigned rdma_recv_bufs;       /* receive buffers per link: the credit window (default 64) */
	unsigned rdma_send_bufs;       /* send buffers per link (default 64) */
	unsigned n_nets;
	char nets[RIOV_CFG_MAX_NETS][RIOV_CFG_NAME];
	unsigned net_mtu[RIOV_CFG_MAX_NETS];   /* 0: the default (1500) */
	unsigned net_vni[RIOV_CFG_MAX_NETS];   /* 0: no overlay */
	bool net_evpn[RIOV_CFG_MAX_NETS];      /* evpn = true: BGP EVPN through FRR (docs/evpn.md) */
	/* network i's remote VTEPs are vteps[net_vtep_first[i] .. + net_n_vteps[i]) */
	unsigned net_vtep_first[RIOV_CFG_MAX_NETS];
	unsigned net_n_vteps[RIOV_CFG_MAX_NETS];
	unsigned n_vteps;
	char (*vteps)[RIOV_CFG_ADDR];  /* [n_vteps], "a.b.c.d" as written */
	/* network i's static MACs are macs[net_mac_first[i] .. + net_n_macs[i]) */
	unsigned net_mac_first[RIOV_CFG_MAX_NETS];
	unsigned net_n_macs[RIOV_CFG_MAX_NETS];
	unsigned n_macs;
	struct riov_cfg_mac *macs;     /* [n_macs] */
	unsigned n_ports;
	struct riov_cfg_port *ports;   /* [n_ports] */
};

/** The embedded default configuration text. */
extern const char riov_config_default_text[];

/** Parse text (from file `origin`, for messages) into cfg. Returns 0, or -EINVAL with a message
 *  "origin:line: ..." in err. cfg is freed with riov_config_free even on failure. */
int riov_config_parse(const char *text, const char *origin, struct riov_config *cfg, char *err,
		      size_t errlen);
/** Read and parse a file. Returns 0 or -errno with a message. */
int riov_config_load(const char *path, struct riov_config *cfg, char *err, size_t errlen);
void riov_config_free(struct riov_config *cfg);

/* IPv4 addresses as the configuration file and the API take them (one syntax for both):
 * dotted decimal "a.b.c.d" (inet_pton: four decimal parts, no leading zeros, nothing else). */

/** Parse s as "a.b.c.d" into *ip (network order). Returns 0 or -EINVAL. */
int riov_ipv4_parse(const char *s, uint32_t *ip);
/** Parse s as "a.b.c.d/len" (len 1-32) into *ip (network order) and *prefix. Returns 0 or
 *  -EINVAL. */
int riov_ipv4_cidr_parse(const char *s, uint32_t *ip, unsigned *prefix);
/** Whether ip (network order) can be a unicast host's address: not in 0.0.0.0/8, 127.0.0.0/8,
 *  224.0.0.0/4 (multicast) or 240.0.0.0/4 (reserved, and the broadcast address). */
bool riov_ipv4_unicast(uint32_t ip);
/** Whether gw (network order) can be the gateway of a host at ip/prefix: a unicast address of
 *  the same subnet, neither ip itself nor (for prefixes up to 30) the subnet's network or
 *  broadcast address. */
bool riov_ipv4_gateway_ok(uint32_t ip, unsigned prefix, uint32_t gw);

/* MAC addresses as the configuration file and the API take them: six pairs of hexadecimal digits
 * separated by ':' ("02:00:00:00:00:01", either case), nothing else. */

/** Parse s into mac. Returns 0 or -EINVAL. */
int riov_mac_parse(const char *s, uint8_t mac[6]);
/** mac as "xx:xx:xx:xx:xx:xx" (lower case) into out (RIOV_CFG_MAC bytes). */
void riov_mac_text(const uint8_t mac[6], char out[RIOV_CFG_MAC]);
/** Whether mac can be a static entry: unicast (the group bit clear) and not all zeros. */
bool riov_mac_unicast(const uint8_t mac[6]);

#endif
