"""Readable reports of a run and of a policy comparison (the CLI without ``--json``)."""

from __future__ import annotations

from simulator.compare import Comparison
from simulator.metrics import Figures, Metrics
from simulator.scenario import Scenario


def _pct(value: float) -> str:
    return f"{value * 100:5.1f}%"


def _header(scenario: Scenario, what: str, seed: int) -> str:
    s = scenario.settings
    return (f"{scenario.name}: {what}, seed {seed}, {s.duration_h:g} h "
            f"(first {s.warmup_h:g} h not measured), target {s.service_level_target_s:g} s")


def _skill_row(name: str, f: Figures) -> str:
    return (f"  {name:<32} {f.offered:>8} {f.answered:>8} {f.abandoned:>9} {f.unserved:>8}"
            f"  {_pct(f.service_level)} {f.asa_s:>8.1f} {_pct(f.abandon_rate)}"
            f" {_pct(f.p_wait)}")


def format_metrics(metrics: Metrics, scenario: Scenario) -> str:
    """A run as a few lines of text: totals, per skill, per team, and speed."""
    o = metrics.overall
    lines = [
        _header(scenario, f"policy {metrics.policy}", metrics.seed),
        f"  service level {_pct(o.service_level)}   ASA {o.asa_s:.1f} s   "
        f"abandoned {_pct(o.abandon_rate)}   P(wait) {_pct(o.p_wait)}   "
        f"occupancy {_pct(metrics.occupancy)}",
        "",
        f"  {'skill':<32} {'offered':>8} {'answered':>8} {'abandoned':>9} {'unserved':>8}"
        f"  {'SL':>6} {'ASA s':>8} {'aband.':>6} {'P(wait)':>6}",
        *(_skill_row(name, f) for name, f in metrics.by_skill.items()),
        _skill_row("all", o),
        "",
        f"  {'team':<32} {'experts':>8} {'staffed h':>10} {'occupancy':>10}",
        *(f"  {name:<32} {t.experts:>8} {t.staffed_h:>10.1f} {_pct(t.occupancy):>10}"
          for name, t in metrics.by_team.items()),
        "",
        f"  simulated {metrics.contacts:,} contacts in {metrics.wall_s:.2f} s "
        f"({metrics.contacts_per_min_wall:,.0f} contacts per wall-clock minute)",
        *_breach_lines(metrics),
    ]
    return "\n".join(lines)


def _breach_lines(metrics: Metrics) -> list[str]:
    """The breach forecast's replay, when the scenario ran it: per skill, when it first warned
    and when the measured service level fell."""
    report = metrics.breach_forecast
    if not report:
        return []

    def at(hours: float | None) -> str:
        return "never" if hours is None else f"{hours:.2f} h"

    lines = ["", f"  breach forecast (every {report['every_s']:g} s)"]
    for skill, seen in report["by_skill"].items():
        lines.append(f"  {skill:<32} alerts {seen['alerts']:>3}   first alert "
                     f"{at(seen['first_alert_h']):>8}   service level fell "
                     f"{at(seen['service_level_fell_h']):>8}")
        if seen["suggestion"]:
            lines.append(f"  {'':<32} suggested: {seen['suggestion']}")
    return lines


def _label(metrics: Metrics) -> str:
    """``graph`` for the default, ``graph (fixed steps)`` for the fixed-step variant."""
    if metrics.escalation == "fixed":
        return f"{metrics.policy} (fixed steps)"
    return metrics.policy


def format_comparison(comparison: Comparison, scenario: Scenario) -> str:
    """Every policy side by side, with the pooled team and each policy's pooling efficiency."""
    seed = comparison.runs[0].seed if comparison.runs else scenario.settings.seed
    p = comparison.pooled
    model = "Erlang A" if p.model == "erlang-a" else "Erlang C"
    lines = [
        _header(scenario, "policy comparison", seed),
        "",
        f"  {'policy':<19} {'service level':>13} {'ASA s':>8} {'abandoned':>10} "
        f"{'occupancy':>10} {'exact skill':>11} {'pooling efficiency':>19}",
    ]
    for m in comparison.runs:
        efficiency = comparison.efficiency(m)
        shown = "n/a" if efficiency is None else f"{efficiency:.2f}"
        lines.append(f"  {_label(m):<19} {_pct(m.overall.service_level):>13} "
                     f"{m.overall.asa_s:>8.1f} {_pct(m.overall.abandon_rate):>10} "
                     f"{_pct(m.occupancy):>10} {_pct(m.overall.exact_share):>11} {shown:>19}")
    lines += [
        f"  {'pooled':<19} {_pct(p.service_level):>13}   ({model}: one team of {p.agents} "
        f"agents, {p.per_hour:.0f}/h, {p.aht_s:.0f} s, {p.traffic_erlangs:.1f} Erlangs)",
        "",
        "  pooling efficiency = (SL_policy - SL_exact) / (SL_pooled - SL_exact)",
    ]
    return "\n".join(lines)
