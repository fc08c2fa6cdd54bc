#pragma once

#include <hdf5.h>

#include "results/cell.h"
#include "results/results_file.h"

namespace sonic {

// The groups of a results file below a run, written and read by the same code so that the two
// cannot drift apart: a run's provenance (attributes of runs/<id>) and a cell's datasets
// (runs/<id>/cell/<index>: histograms, raw records, errors, servers, ranks, batch sizes). Reads
// treat the file as untrusted: a missing or mistyped attribute or dataset throws Error(kIo)
// naming the object. Internal to results/; the schema is results/schema.h.

void WriteRunInfo(hid_t run, const RunInfo& info);
RunInfo ReadRunInfo(hid_t run);

void WriteCellGroup(hid_t group, const CellResult& result);
// Fills the fields of `result` that live in the cell's group (the table holds the others).
void ReadCellGroup(hid_t group, bool with_raw_records, CellResult& result);

}  // namespace sonic
