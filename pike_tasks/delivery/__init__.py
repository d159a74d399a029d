"""Manager digests, channel-neutral (REPORTS.md, Report 3), in layers:

- ``digest``: which teams a manager sees; the ``Digest`` value, built once per recipient (pure);
- ``view``: the plain dict every renderer reads (pure);
- ``email``: the email rendering (nh3 excerpts come from the view; the render-and-shrink loop) and
  the SMTP channel;
- ``options``: ``DeliveryOptions``, one value for what a run asks (dry run, force, resend_to...);
- ``engine``: the ``Channel`` protocol and the once-only, bounded-concurrency delivery of any channel;
- ``recipe``: what the flows call (build, prepare per channel, deliver) and the checks before any API call.

Import from the submodules: this package's ``__init__`` stays empty of imports so that the pure
layers load without Prefect.
"""
