"""`edgephoto doctor`: what this machine offers the runtime (engines, devices, delegates, CPU)."""

from __future__ import annotations

from typing import Any

import click

from edgephoto.cli.output import emit_json, print_table


def _devices(engine: dict[str, Any]) -> str:
    return ", ".join(f"{device}: {acc}" for device, acc in engine.get("devices", {}).items()) or "-"


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(as_json: bool) -> None:
    """Probe installed engines, their devices/delegates, and the CPU."""
    from edgephoto.runtime.devices import probe

    facts = probe()
    if as_json:
        emit_json(facts)
        return
    system, cpu = facts["platform"], facts["cpu"]
    features = ", ".join(k for k, v in cpu["features"].items() if v) or "-"
    print_table(
        f"edgephoto {facts['edgephoto']} on this machine",
        ["fact", "value"],
        [
            ["platform", f"{system['system']} {system['release']} ({system['libc'] or 'no libc'})"],
            ["python", system["python"]],
            ["cpu", f"{cpu['model'] or '?'} [{cpu['arch']}]"],
            ["cores", f"{cpu['usable_cores']} usable of {cpu['cores']}"],
            ["cpu features", features],
            ["cpu flags", " ".join(cpu["flags"]) or "-"],
        ],
    )
    rows = []
    for name, engine in facts["engines"].items():
        if engine["usable"]:
            status = "ok"
        elif engine["installed"]:
            status = engine["error"] or "unusable"
        else:
            status = engine["error"] or "not installed"
        rows.append([
            name,
            engine["engine"],
            engine["version"] or "-",
            _devices(engine),
            ", ".join(map(str, engine.get("accelerators", []))) or "-",
            status,
        ])
    print_table("engines (device: accelerator used for it)",
                ["backend", "module", "version", "devices", "found", "status"], rows)
    lite = facts["engines"].get("litert", {})
    missing = [k for k, v in lite.get("modelled", {}).items()
               if isinstance(v, str) and not v.startswith("ok")]
    if missing:
        click.echo(f"litert delegates not found: {', '.join(missing)} "
                   "(asking for them falls back to xnnpack with a warning)")
