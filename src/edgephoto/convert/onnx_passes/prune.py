"""Exact ONNX graph clean-ups applied before a converter reads a source graph.

- `keep_outputs`: drop graph outputs the spec does not list, and the nodes only they need.
  U2-Net-p ships its fused map and six side maps as seven outputs; the spec keeps the fused one,
  and OpenVINO's and onnx2tf's paths match outputs to the spec one to one.
- `constants_to_initializers`: Constant nodes become initializers. onnx2tf 1.28.8 reads the
  scale/bias of InstanceNormalization only from initializers (MODNet's IBNorm feeds them from
  Constant nodes: "unsupported type Variable").
- `for_onnx2tf`: both, then (for graphs that compute shapes: Shape ops) onnxsim at the spec's
  static input shapes, which folds the Shape -> Gather -> Concat chains that size Resize ops
  (onnx2tf fails on U2-Net-p's Resize_42 otherwise). Numerically the same graph; parity still runs against the original file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgephoto.convert.graph import ConvertContext


def keep_outputs(model: Any, names: list[str]) -> list[str]:
    """Keep only the graph outputs the spec's `names` stand for (matched as every edge matches
    them: by name, else by position) and the nodes they depend on; returns the dropped output
    names. Edits `model` in place."""
    from edgephoto.convert.edge_tools import match_names

    graph = model.graph
    present = [o.name for o in graph.output]
    wanted = set(match_names(names, present).values()) if names and present else set(present)
    if set(present) <= wanted:
        return []
    kept = [o for o in graph.output if o.name in wanted]
    dropped = [o.name for o in graph.output if o.name not in wanted]
    del graph.output[:]
    graph.output.extend(kept)
    needed = {o.name for o in kept}
    live = []
    for node in reversed(graph.node):  # ONNX nodes are topologically sorted
        if any(o in needed for o in node.output):
            live.append(node)
            needed.update(i for i in node.input if i)
    live.reverse()
    del graph.node[:]
    graph.node.extend(live)
    inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)
    infos = [v for v in graph.value_info if v.name in needed]
    del graph.value_info[:]
    graph.value_info.extend(infos)
    return dropped


def constants_to_initializers(model: Any) -> int:
    """Turn tensor-valued Constant nodes into initializers; returns how many."""
    from onnx import numpy_helper

    graph = model.graph
    moved, nodes = 0, []
    for node in graph.node:
        attr = node.attribute[0] if node.op_type == "Constant" and len(node.attribute) == 1 else None
        if attr is not None and attr.name == "value" and node.domain in ("", "ai.onnx"):
            tensor = numpy_helper.from_array(numpy_helper.to_array(attr.t), node.output[0])
            graph.initializer.append(tensor)
            moved += 1
        else:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    return moved


def spec_outputs_only(path: Path, ctx: ConvertContext) -> Path:
    """`path`, or a copy in ctx.workdir without the outputs the spec does not list."""
    import onnx

    try:
        model = onnx.load(str(path))
    except Exception:  # noqa: BLE001 - an unreadable file goes on as it is: the converter names the failure
        return path
    dropped = keep_outputs(model, [t.name for t in ctx.spec.outputs])
    if not dropped:
        return path
    out = Path(ctx.workdir) / f"{Path(path).stem}.spec-outputs.onnx"
    onnx.save(model, str(out))
    ctx.notes.append(f"onnx: outputs the spec does not list dropped: {', '.join(dropped)}")
    return out


def for_onnx2tf(path: Path, ctx: ConvertContext, shapes: dict[str, list[int]]) -> Path:
    """A copy of the graph onnx2tf can read: spec outputs only, Constant nodes as initializers,
    shapes folded by onnxsim at the static input `shapes` when it computes shapes (Shape ops;
    left as it is if onnxsim fails)."""
    import onnx

    model = onnx.load(str(path))
    dropped = keep_outputs(model, [t.name for t in ctx.spec.outputs])
    moved = constants_to_initializers(model)
    notes = [f"dropped outputs {', '.join(dropped)}"] if dropped else []
    if moved:
        notes.append(f"{moved} Constant nodes as initializers")
    if not any(node.op_type == "Shape" for node in model.graph.node):
        shapes = {}
    try:
        if not shapes:
            raise LookupError("no shapes to fold")
        import onnxsim

        simplified, ok = onnxsim.simplify(model, overwrite_input_shapes=shapes)
    except Exception:  # noqa: BLE001 - onnxsim raises many kinds; the unsimplified graph still goes on
        simplified, ok = model, False
    if ok:
        model = simplified
        constants_to_initializers(model)  # onnxsim may leave folded values as Constant nodes
        notes.append("onnxsim at the static input shapes")
    if not notes:
        return path
    out = Path(ctx.workdir) / f"{Path(path).stem}.for-onnx2tf.onnx"
    onnx.save(model, str(out))
    ctx.notes.append("onnx2tf input: " + "; ".join(notes))
    return out
