"""The provider contract suite: checks any gateway against the published OmniHuman v1.5 API doc.

Run it against mockgateway or the real service::

    pytest --pyargs mockgateway.contract_tests \\
        --mockgateway-gateway-url https://gateway.pixazo.ai --mockgateway-gateway-api-key KEY

``--mockgateway-gateway-model ID`` checks another model the gateway declares, taking its generate
path and a request body from the gateway's served OpenAPI document (``/_mock/openapi.json``, or
``--mockgateway-gateway-openapi``). Checks that submit a job (and so cost money on a real
gateway) are marked ``billable`` and run only with ``--mockgateway-gateway-allow-billable``. Every
failure says what the doc requires and what was seen. The options come from
:mod:`mockgateway.contract_tests.plugin`, which an installed mockgateway registers with pytest;
from a source checkout add ``-p mockgateway.contract_tests.plugin``.
"""
