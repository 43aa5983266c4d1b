"""Detection-quality evaluation: the NAB corpus reader (the scorer itself is pure, in
:mod:`seriesguard.core.nab_scoring`)."""

from seriesguard.evaluation.corpus import NabCorpus, NabFile, probation_rows

__all__ = ["NabCorpus", "NabFile", "probation_rows"]
