"""Each notebook's lesson in one module: its default experiment beside the papers' findings
read off it.

====  ================  =======================================================================
 nb    module            paper, and where the findings come from
====  ================  =======================================================================
 01    ``degradation``   He et al. 2016, Fig. 1, Fig. 6, Sec. 4.2 and footnote 5 (and the
                         warm-up demo, :func:`degradation.instability`)
 02    ``shortcuts``     He et al. 2016, Table 3 (options A, B, C)
 03    ``bottlenecks``   He et al. 2016, Sec. 4.1 and Table 3
 04    ``responses``     He et al. 2016, Fig. 7 and Sec. 4.2
 05    ``resresnet``     Gelda et al. 2016, Sec. III.A and Fig. 9
 06    ``rir``           Targ et al. 2016, Table 3 and Fig. 3
 07    ``ror``           Zhang et al. 2017 (RoR), Tables V-VI
 08    ``successive``    Gelda et al. 2016, Sec. III.B (and Fig. 6, Fig. 9 for ResNet-32)
====  ================  =======================================================================

Every lesson module has ``experiment(budget, ...) -> Result`` and ``findings(result) ->
list[Finding]``; :mod:`.experiment` and :mod:`.finding` hold what they share.
:mod:`reslab.course.experiments` and :mod:`reslab.course.findings` index them by notebook.
"""
