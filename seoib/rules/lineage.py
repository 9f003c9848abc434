"""Kernel capability lineage as a networkx graph.

Nodes are releases: mainline releases chained in order, stable backport points
hanging off their series' mainline node, distribution builds off their base. A
release has a capability when it or an ancestor introduced it. A stable point
X.Y.Z that is not a node itself attaches to the newest backport node of series
X.Y at or before it (or to mainline X.Y).

A release with a vendor suffix that no ``builds`` entry names is read by the
first matching scheme of ``distributions`` (seoib.rules.distros) and judged as
the upstream release it names, always marked inferred: distributions add
backports, they do not remove upstream features, so the base's capabilities are
a floor, and the note says how to settle what a vendor backport may add.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import Location, RuleError, SpecError
from ..memo import ENTRY_BYTES
from ..record import record
from .distros import DistributionScheme, DistroMatch, load_schemes, match_release
from .language import Capability, KernelChange
from .overlay import item_location
from .versions import Release, parse_release

if TYPE_CHECKING:  # yaml stays unimported on the cached query path
    from ..yamlio import LineDict

__all__ = ["KernelLineage", "KernelResolution"]

# Bytes of release texts and their resolutions remembered before the memo starts over: a
# service meeting endless distinct releases (or very long ones) keeps flat memory.
CACHE_BYTES = 2 << 20
RESOLUTION_BYTES = 600  # what one resolution adds besides its text (measured: 450-600 bytes)


@record
class KernelResolution:
    """A kernel release resolved along its lineage: its capabilities and why."""

    release: str
    capabilities: frozenset[str]
    because: tuple[KernelChange, ...]  # the changes on the ancestor path that brought them
    inferred: str | None = None  # why the release was judged by inference, when it was
    scheme: KernelChange | None = None  # the distribution scheme that read the release


class KernelLineage:
    """Resolve kernel releases to capability sets; built once per rule set."""

    def __init__(self, doc: LineDict, source: str) -> None:
        import networkx as nx

        self.source = source
        self.capabilities: dict[str, Capability] = {}
        problems: list[tuple[Location | None, str]] = []
        for i, c in enumerate(doc["capabilities"]):
            loc = item_location(doc["capabilities"], i, source)
            self.capabilities[c["id"]] = Capability(c["id"], c["fact"], c["mask"],
                                                    c["description"], c["source"], loc)
        graph = nx.DiGraph()
        self._mainline: dict[tuple[int, int], str] = {}
        prev = None
        for i, text in enumerate(doc["mainline"]):
            rel = parse_release(text)
            assert rel is not None  # the schema checked the pattern
            if rel.series in self._mainline:
                problems.append((item_location(doc["mainline"], i, source),
                                 f"mainline release {text} listed twice"))
            node = rel.series_text
            self._mainline[rel.series] = node
            graph.add_node(node, release=rel, change=None)
            if prev is not None:
                graph.add_edge(prev, node)
            prev = node

        def change(entry: LineDict, i: int, key: str) -> KernelChange:
            loc = item_location(doc[key], i, source)
            for cap in entry["capabilities"]:
                if cap not in self.capabilities:
                    problems.append((loc, f"{entry['id']}: unknown capability {cap!r}"))
            return KernelChange(entry["id"], tuple(entry["capabilities"]), entry["description"],
                                entry["source"], loc, bool(entry.get("confirmed", True)))

        for i, entry in enumerate(doc.get("introductions", [])):
            ch = change(entry, i, "introductions")
            rel = parse_release(entry["release"])
            node = self._mainline.get(rel.series) if rel else None
            if node is None:
                problems.append((ch.location, f"{ch.id}: release {entry['release']} is not in mainline"))
                continue
            graph.nodes[node].setdefault("changes", []).append(ch)

        self._backports: dict[tuple[int, int], list[tuple[Release, str]]] = {}
        for i, entry in enumerate(doc.get("backports", [])):
            ch = change(entry, i, "backports")
            series, since = parse_release(entry["series"]), parse_release(entry["since"])
            assert series is not None and since is not None
            base = self._mainline.get(series.series)
            if base is None or since.series != series.series or len(since.parts) < 3:
                problems.append((ch.location, f"{ch.id}: since {entry['since']} must be a stable "
                                 f"release of mainline series {entry['series']}"))
                continue
            points = self._backports.setdefault(series.series, [])
            parent = max((p for p in points if p[0].parts < since.parts), default=(None, base))[1]
            node = f"{since}"
            graph.add_node(node, release=since, changes=[ch])
            graph.add_edge(parent, node)
            points.append((since, node))
            points.sort()

        self._builds: dict[str, str] = {}
        for i, entry in enumerate(doc.get("builds", [])):
            ch = change(entry, i, "builds")
            base_rel = parse_release(entry["base"])
            base = self._attach(base_rel) if base_rel else None
            if base is None:
                problems.append((ch.location, f"{ch.id}: base {entry['base']} is not a known release"))
                continue
            node = f"build:{entry['release']}"
            graph.add_node(node, release=parse_release(entry["release"]), changes=[ch])
            graph.add_edge(base, node)
            self._builds[entry["release"]] = node
        self.schemes: tuple[DistributionScheme, ...] = load_schemes(doc, source, problems)
        longterm = doc.get("longterm") or {}
        self.longterm: tuple[str, ...] = tuple(longterm.get("series", ()))
        for text in self.longterm:
            rel = parse_release(text)
            if rel is None or rel.series not in self._mainline:
                problems.append((Location(source), f"longterm series {text} is not in mainline"))
        if problems:
            raise RuleError.from_problems(problems)
        self.graph: Any = graph
        self._chains: dict[str, tuple[KernelChange, ...]] = {}
        self._cache: dict[str, KernelResolution] = {}

    def _attach(self, rel: Release) -> str | None:
        """The lineage node a release inherits from."""
        base = self._mainline.get(rel.series)
        if base is None:
            return None
        if len(rel.parts) < 3:
            return base
        node = base
        for since, bnode in self._backports.get(rel.series, []):
            if since.parts <= rel.parts:
                node = bnode
        return node

    @property
    def mainline(self) -> list[str]:
        return list(self._mainline.values())

    def known_points(self, series: tuple[int, int]) -> list[Release]:
        return [since for since, _ in self._backports.get(series, [])]

    def resolve(self, text: str, where: Location | None = None) -> KernelResolution:
        """Capabilities of kernel release ``text``; SpecError with guidance when unknown."""
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        node = self._builds.get(text)
        inferred = scheme = None
        if node is None:
            rel = parse_release(text)
            if rel is None:
                raise SpecError(f"kernel {text!r} is not a release number (expected e.g. 6.18.17)",
                                where)
            distro = match_release(self.schemes, text) if rel.suffix else None
            if rel.suffix and distro is None:
                raise SpecError(
                    f"kernel {text!r} has a suffix no distribution scheme reads. Declare it under "
                    f"builds: or distributions: in a kernels.yaml of a rule overlay (--rules DIR) "
                    f"or pass the probed x2apic-api=<mask> instead", where)
            node, newer = self._node(distro.base if distro else rel, text, where)
            inferred = self._distro_note(text, distro, node, newer) if distro else newer
            scheme = distro.scheme.change if distro else None
        because = self._chains[node]
        caps = frozenset(c for ch in because for c in ch.capabilities)
        res = KernelResolution(text, caps, because, inferred, scheme)
        cost = ENTRY_BYTES + RESOLUTION_BYTES + len(text)
        used = self.__dict__.get("_cache_bytes", 0) + cost
        if used > CACHE_BYTES:  # endless distinct releases (a service): start over
            self._cache.clear()
            used = cost
        self._cache_bytes = used
        self._cache[text] = res
        return res

    def _node(self, rel: Release, text: str, where: Location | None) -> tuple[str, str | None]:
        """The lineage node ``rel`` inherits from, and why it was inferred (a release past
        the newest mainline one), or SpecError for a series the rules do not know."""
        node = self._attach(rel)
        if node is not None:
            return node, None
        newest = max(self._mainline)
        if rel.series > newest:
            node = self._mainline[newest]
            return node, (f"kernel {text} is newer than the newest mainline release in the "
                          f"rules ({node}): it descends from {node} and is judged with "
                          f"{node}'s capabilities (a revert would not be seen; a probed "
                          f"x2apic-api=<mask> settles it)")
        raise SpecError(
            f"kernel {text} is not in the rules (series {rel.series_text} unknown). Add "
            f"\"{rel.series_text}\" to mainline: in a kernels.yaml of a rule overlay "
            f"(--rules DIR), or pass the probed x2apic-api=<mask>", where)

    def _distro_note(self, text: str, distro: DistroMatch, node: str, newer: str | None) -> str:
        """Why a distribution build was judged as its upstream base, and how to settle it."""
        ch = distro.scheme.change
        vendor = ch.id.rsplit(".", 1)[-1] + ("" if ch.confirmed else ", scheme unconfirmed")
        what = (f"series {distro.base} (the release names the series, not its stable point)"
                if distro.series_only else f"upstream {distro.base}")
        head = f"kernel {text} is a distribution build ({vendor}) of {what}"
        if newer:
            head += f"; {newer}"
        caps = {c for chg in self._chains[node] for c in chg.capabilities}
        missing = [c for c in self.capabilities if c not in caps]
        settle = ("settle it with the probed mask (seoib probe, or x2apic-api=<mask> in the host "
                  "spec) or a builds: entry in a rule overlay")
        if not missing:
            return (f"{head}: judged with {distro.base}'s capabilities, which include every one "
                    f"the rules know (distributions add backports, they do not remove upstream "
                    f"features); {settle}")
        return (f"{head}: judged as {distro.base}, without {', '.join(missing)}; a vendor "
                f"backport would change the verdict: {settle}")

    @property
    def builds(self) -> list[str]:
        """The distribution build releases the rules name (matched exactly)."""
        return list(self._builds)

    def longterm_of(self, series: tuple[int, int]) -> str | None:
        """The longterm (LTS) series ``series`` belongs to, as written in the rules."""
        for text in self.longterm:
            rel = parse_release(text)
            if rel is not None and rel.series == series:
                return text
        return None

    def freeze(self) -> None:
        """Precompute every node's ancestor chain and drop the graph (cheap to pickle)."""
        import networkx as nx

        self._chains = {
            n: tuple(ch for a in [*sorted(nx.ancestors(self.graph, n), key=self._order), n]
                     for ch in self.graph.nodes[a].get("changes", []))
            for n in self.graph.nodes}
        self.graph = None

    def _order(self, node: str) -> tuple[int, ...]:
        rel = self.graph.nodes[node].get("release")
        return rel.parts if rel else (0,)

    def capabilities_from_mask(self, mask: int) -> frozenset[str]:
        """Capabilities a probed KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API) value proves."""
        caps = {c.id for c in self.capabilities.values() if c.mask and (mask & c.mask) == c.mask}
        if mask:
            # The x2APIC API postdates split irqchip: a nonzero answer implies it.
            caps |= {c.id for c in self.capabilities.values() if c.mask == 0}
        return frozenset(caps)

    def mask_covers(self) -> Mapping[str, int]:
        return {c.id: c.mask for c in self.capabilities.values()}
