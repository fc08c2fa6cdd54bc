#!/usr/bin/python3
"""The physics performance figure: background rejection against signal efficiency.

One curve per backend, precision and deployment of the cells with a physics measurement
(`accuracy = on`, docs/SWEEP.md "Accuracy"), drawn from each cell's stored ROC curve as the
top-tagging comparison draws them (Kasieczka et al. 2019): 1/eB on a log axis against eS, with the
AUC in the legend. Points where no background passed (eB = 0) have no finite rejection and are
left out; the curve then starts where the first background sample passes.
"""

import sonicplots as sp

PRECISION_STYLES = {"fp32": "-", "tf32": "-", "fp16": "--", "bf16": "--", "int8": ":",
                    "bfp8": "-."}


def draw(path, out_dir):
    run = sp.latest_run(path)
    cells = run.physics_cells()
    paths = []
    for model, dataset in sorted({(c["model"], c["accuracy_dataset"]) for c in cells}):
        fig, axis = sp.figure(f"{sp.model_name(model)}: background rejection",
                              "signal efficiency $\\varepsilon_S$",
                              "background rejection $1/\\varepsilon_B$")
        for cell in (c for c in cells if (c["model"], c["accuracy_dataset"]) == (model, dataset)):
            roc = run.table(cell, "roc_curve")
            passed = roc["background_efficiency"] > 0
            axis.plot(roc["signal_efficiency"][passed], 1 / roc["background_efficiency"][passed],
                      color=sp.colour(cell["backend"]),
                      linestyle=PRECISION_STYLES.get(cell["precision"], "-"),
                      label=f"{sp.physics_label(cell)}: AUC {cell['roc_auc']:.4f}")
        axis.set_yscale("log")
        axis.set_xlim(0, 1)
        background = cells[0]["accuracy_samples"] - cells[0]["accuracy_signal_samples"]
        axis.axhline(background, color="#999999", linewidth=0.8)
        axis.annotate(f"{background} background samples: the largest finite 1/eB",
                      (0.02, background), fontsize=7, va="bottom", color="#666666")
        axis.legend(fontsize=7)
        fig.text(0.01, 0.005, f"{sp.hardware_caption(run)}; {dataset}", fontsize=6)
        paths += sp.save(fig, out_dir, f"roc_{sp.model_name(model)}")
    return paths


if __name__ == "__main__":
    sp.main_for(draw, __doc__.splitlines()[0])
