"""Ground truth from real hypervisors: ``migsim measure qemu`` runs real QEMU live migrations.

Rooms: :mod:`~runner.measure.guest` (the tiny multiboot guest, built at run time),
:mod:`~runner.measure.qmp` (a QMP client), :mod:`~runner.measure.qemu` (QEMU processes, free ports,
``tc`` shaping on loopback), :mod:`~runner.measure.harness` (one measured migration),
:mod:`~runner.measure.rows` (a measurement as a row in migsim's column vocabulary),
:mod:`~runner.measure.spec` (the harness spec: a sweep spec plus a ``[measure]`` table) and
:mod:`~runner.measure.run` (the sweep of runs into a resumable run directory). Nothing here is
imported by the model or by the sweep runner.
"""
