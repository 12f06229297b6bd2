"""Where the Redis store keeps each thing: every key is the store's prefix (``mg:``) and a name.

=====================  =======  =====================================================
key                    type     holds
=====================  =======  =====================================================
``layout``             string   the layout version (checked at open)
``lock``               string   the step lock's token (SET NX PX)
``lock:queue``/beats   zset/h   replicas waiting for it, by first ask / last ask
``meta``               hash     the manual clock's time, the runtime scenario
``j:<id>``             string   a job as JSON (``Job.to_dict``)
``jc:<id>``            hash     its status ``s``, key ``k``, polls ``p``, ``pp:<status>``
``jseq``               counter  job creation order
``order``              zset     every job by seq (listings, newest first)
``bys:<status>``       zset     jobs in one status by seq
``byk:<key>``          zset     one key's jobs by seq
``counts``             hash     jobs per status
``kcounts:<key>``      hash     one key's jobs per status
``active``             hash     jobs not yet ended per key
``ended``              zset     ended jobs (``<seq>|<id>``) by end time (retention)
``w:<key>``            hash     a wallet: ``balance``, ``held`` (decimal text), ``size``
``wallets``            zset     wallets by creation order (``wseq``)
``h:<key>``            hash     a wallet's open holds: request id -> amount
``l:<key>``            list     a wallet's ledger tail (JSON rows)
``m:<id>``             hash     a job's media: digest ``d``, type ``t``, etag ``e``
``mb:<digest>``        string   media bytes, once per content
``mrc`` / ``mbytes``   hash/n   references per digest / bytes kept
``morder``             zset     jobs with media, oldest first (``mseq``)
``d:<delivery>``       string   a webhook delivery as JSON
``dof:<id>``           list     a job's delivery ids
``dt:<id>`` / douts    hash     attempt outcomes per job / over all deliveries kept
``tasks``              zset     timed work by due time (members ``<order>|<kind>|<ref>``)
``tdue``               hash     each task's due time (to hand a lapsed claim out again)
``leased``             zset     claimed tasks by lease end (Redis server time, ms)
``c:<name>``           counter  ``incr``
``b:<bucket>``         hash     a token bucket: tokens ``t``, updated ``u``
``jn``                 list     the journal: ``<seq>\\t<entry JSON>``, oldest first
``jnseq`` / ``jnfirst``  n      last seq given / first seq since the last clear
``jnbytes``            n        the journal's bytes kept
``probe``              string   health's write check (lapses after a minute)
``events``             channel  pub/sub between replicas
=====================  =======  =====================================================
"""

from __future__ import annotations


class Keys:
    __slots__ = ("p",)

    def __init__(self, prefix: str) -> None:
        self.p = prefix

    @property
    def pattern(self) -> str:
        """A SCAN pattern matching every key of this store (glob characters escaped)."""
        escaped = "".join("\\" + c if c in "*?[]\\" else c for c in self.p)
        return escaped + "*"

    def __getattr__(self, name: str) -> str:  # a fixed key: keys.meta, keys.order, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return self.p + name

    def job(self, request_id: str) -> str:
        return f"{self.p}j:{request_id}"

    def job_counters(self, request_id: str) -> str:
        return f"{self.p}jc:{request_id}"

    def by_status(self, status: str) -> str:
        return f"{self.p}bys:{status}"

    def by_key(self, key: str) -> str:
        return f"{self.p}byk:{key}"

    def key_counts(self, key: str) -> str:
        return f"{self.p}kcounts:{key}"

    def wallet(self, key: str) -> str:
        return f"{self.p}w:{key}"

    def holds(self, key: str) -> str:
        return f"{self.p}h:{key}"

    def ledger(self, key: str) -> str:
        return f"{self.p}l:{key}"

    def delivery(self, delivery_id: str) -> str:
        return f"{self.p}d:{delivery_id}"

    def deliveries_of(self, request_id: str) -> str:
        return f"{self.p}dof:{request_id}"

    def delivery_tally(self, request_id: str) -> str:
        return f"{self.p}dt:{request_id}"

    def counter(self, name: str) -> str:
        return f"{self.p}c:{name}"

    def bucket(self, name: str) -> str:
        return f"{self.p}b:{name}"
