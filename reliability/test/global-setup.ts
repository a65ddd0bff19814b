import { bundleGatewayBin } from '@wan-video/test-utils/gateway-process';

export default bundleGatewayBin;
