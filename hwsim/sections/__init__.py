"""The run-config sections, one module each; :mod:`hwsim.config` assembles them.

=====================  ==============================================================
module                 section(s)
=====================  ==============================================================
``task``               ``[task]`` (:class:`TaskConfig`)
``network``            ``[network]`` (:class:`NetworkConfig`)
``mgd``                ``[mgd]`` (:class:`MgdConfig`)
``learn``              ``[learn]`` (:class:`LearnConfig`)
``chip``               ``[chip]`` (:class:`ChipConfig`, and ``device_set_entries``)
``signal``             ``[chip.cost_line]``, ``[chip.integrator]``, ``[chip.perturbation]``
``transfer``           ``[chip.transfer]`` (:class:`TransferConfig`, Tiki-Taka)
``sim``                ``[sim]`` (:class:`SimConfig`)
``hardware``           ``[hardware]`` (:class:`HardwareConfig`)
``diagnostics``        ``[diagnostics]`` (:class:`DiagnosticsConfig`)
``limits``             ``MAX_STEPS``, shared by the sections
``rules``              the rules across sections (signal path against ``[mgd]``)
=====================  ==============================================================

Each module imports only :mod:`hwsim._schema` (and ``limits``/``signal``/``transfer``), never
:mod:`hwsim.config`, so the sections sit below everything that reads a config.
"""
