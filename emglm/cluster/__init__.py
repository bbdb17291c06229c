"""Fitting on a Dask cluster, from data larger than memory (``pip install emglm[dask]``).

``emglm.em_glm(formula, data, ...)`` with a ``dask.dataframe.DataFrame`` as ``data`` runs
here (:mod:`emglm.cluster.fit`): every EM iteration is a map-reduce over the partitions of
the sums the in-memory M-step forms (:mod:`emglm.cluster.jobs`), the parameters stay on the
client and the posteriors on the workers. This is the only part of emglm that imports
Dask. See ``docs/scale.md``.
"""
