// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title Emissions token network (ERC-1155) for the carbon accounting harness.
/// @notice Token types: 1 Renewable Energy Certificate, 2 Carbon Emissions Offset,
///         3 Audited Emissions. Audited emissions are retired in full when issued.
///         balanceOf() reports the available (not retired) balance.
contract EmissionsTokenNetwork {
    uint8 public constant TOKEN_TYPE_REC = 1;
    uint8 public constant TOKEN_TYPE_OFFSET = 2;
    uint8 public constant TOKEN_TYPE_AUDITED_EMISSIONS = 3;

    bytes32 public constant DEFAULT_ADMIN_ROLE = 0x00;
    bytes32 public constant REGISTERED_DEALER = keccak256("REGISTERED_DEALER");
    bytes32 public constant REGISTERED_REC_DEALER = keccak256("REGISTERED_REC_DEALER");
    bytes32 public constant REGISTERED_OFFSET_DEALER =
        keccak256("REGISTERED_OFFSET_DEALER");
    bytes32 public constant REGISTERED_EMISSIONS_AUDITOR =
        keccak256("REGISTERED_EMISSIONS_AUDITOR");
    bytes32 public constant REGISTERED_CONSUMER = keccak256("REGISTERED_CONSUMER");

    struct CarbonTokenDetails {
        uint256 tokenId;
        uint8 tokenTypeId;
        address issuer;
        address issuee;
        uint256 fromDate;
        uint256 thruDate;
        uint256 dateCreated;
        uint256 automaticRetireDate;
        string metadata;
        string manifest;
        string description;
    }

    event TokenCreated(
        uint256 availableBalance,
        uint256 retiredBalance,
        uint256 tokenId,
        uint8 tokenTypeId,
        address indexed issuer,
        address indexed issuee,
        uint256 fromDate,
        uint256 thruDate,
        uint256 dateCreated,
        uint256 automaticRetireDate,
        string metadata,
        string manifest,
        string description
    );
    event TokenRetired(address indexed account, uint256 tokenId, uint256 amount);
    event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender);

    // ERC-1155 events.
    event TransferSingle(
        address indexed operator,
        address indexed from,
        address indexed to,
        uint256 id,
        uint256 value
    );
    event TransferBatch(
        address indexed operator,
        address indexed from,
        address indexed to,
        uint256[] ids,
        uint256[] values
    );
    event ApprovalForAll(address indexed account, address indexed operator, bool approved);
    event URI(string value, uint256 indexed id);

    uint256 private _numOfUniqueTokens;
    mapping(uint256 => CarbonTokenDetails) private _tokenDetails;
    mapping(uint256 => mapping(address => uint256)) private _balances;
    mapping(uint256 => mapping(address => uint256)) private _retiredBalances;
    mapping(address => mapping(address => bool)) private _operatorApprovals;
    mapping(bytes32 => mapping(address => bool)) private _roles;

    constructor() {
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
    }

    modifier onlyAdmin() {
        require(hasRole(DEFAULT_ADMIN_ROLE, msg.sender), "caller is not the admin");
        _;
    }

    modifier onlyDealerOrAdmin() {
        require(
            hasRole(REGISTERED_DEALER, msg.sender) || hasRole(DEFAULT_ADMIN_ROLE, msg.sender),
            "caller is not a dealer or the admin"
        );
        _;
    }

    // ------------------------------------------------------------------ issue

    function issue(
        address issuee,
        uint8 tokenTypeId,
        uint256 quantity,
        uint256 fromDate,
        uint256 thruDate,
        uint256 automaticRetireDate,
        string calldata metadata,
        string calldata manifest,
        string calldata description
    ) external returns (uint256) {
        require(_isValidTokenType(tokenTypeId), "invalid token type");
        if (!hasRole(_dealerRole(tokenTypeId), msg.sender)) {
            revert(_dealerRevertReason(tokenTypeId));
        }
        require(issuee != address(0), "issuee is the zero address");
        require(quantity > 0, "quantity must be positive");
        require(fromDate <= thruDate, "fromDate is after thruDate");

        uint256 tokenId = ++_numOfUniqueTokens;
        CarbonTokenDetails storage details = _tokenDetails[tokenId];
        details.tokenId = tokenId;
        details.tokenTypeId = tokenTypeId;
        details.issuer = msg.sender;
        details.issuee = issuee;
        details.fromDate = fromDate;
        details.thruDate = thruDate;
        details.dateCreated = block.timestamp;
        details.automaticRetireDate = automaticRetireDate;
        details.metadata = metadata;
        details.manifest = manifest;
        details.description = description;

        _balances[tokenId][issuee] = quantity;
        emit TransferSingle(msg.sender, address(0), issuee, tokenId, quantity);

        uint256 retired = 0;
        if (tokenTypeId == TOKEN_TYPE_AUDITED_EMISSIONS) {
            _retire(issuee, tokenId, quantity);
            retired = quantity;
        }
        _emitTokenCreated(quantity - retired, retired, details);
        return tokenId;
    }

    function _emitTokenCreated(
        uint256 available,
        uint256 retired,
        CarbonTokenDetails storage details
    ) private {
        emit TokenCreated(
            available,
            retired,
            details.tokenId,
            details.tokenTypeId,
            details.issuer,
            details.issuee,
            details.fromDate,
            details.thruDate,
            details.dateCreated,
            details.automaticRetireDate,
            details.metadata,
            details.manifest,
            details.description
        );
    }

    // --------------------------------------------------- retire and transfer

    function retire(uint256 tokenId, uint256 amount) external {
        require(_exists(tokenId), "token does not exist");
        require(amount > 0, "amount must be positive");
        require(_balances[tokenId][msg.sender] >= amount, "not enough available balance");
        _retire(msg.sender, tokenId, amount);
    }

    function transfer(address to, uint256 tokenId, uint256 amount) external {
        _checkTransfer(msg.sender, to, tokenId, amount);
        _move(msg.sender, to, tokenId, amount);
        emit TransferSingle(msg.sender, msg.sender, to, tokenId, amount);
        _checkReceiver(msg.sender, msg.sender, to, tokenId, amount, "");
    }

    function safeTransferFrom(
        address from,
        address to,
        uint256 id,
        uint256 amount,
        bytes calldata data
    ) external {
        require(
            from == msg.sender || _operatorApprovals[from][msg.sender],
            "caller is not the owner nor approved"
        );
        _checkTransfer(from, to, id, amount);
        _move(from, to, id, amount);
        emit TransferSingle(msg.sender, from, to, id, amount);
        _checkReceiver(msg.sender, from, to, id, amount, data);
    }

    function safeBatchTransferFrom(
        address from,
        address to,
        uint256[] calldata ids,
        uint256[] calldata amounts,
        bytes calldata data
    ) external {
        require(
            from == msg.sender || _operatorApprovals[from][msg.sender],
            "caller is not the owner nor approved"
        );
        require(ids.length == amounts.length, "ids and amounts length mismatch");
        for (uint256 i = 0; i < ids.length; ++i) {
            _checkTransfer(from, to, ids[i], amounts[i]);
            _move(from, to, ids[i], amounts[i]);
        }
        emit TransferBatch(msg.sender, from, to, ids, amounts);
        if (to.code.length > 0) {
            try
                IERC1155Receiver(to).onERC1155BatchReceived(msg.sender, from, ids, amounts, data)
            returns (bytes4 answer) {
                require(
                    answer == IERC1155Receiver.onERC1155BatchReceived.selector,
                    "recipient rejected the tokens"
                );
            } catch {
                revert("recipient is not an ERC1155 receiver");
            }
        }
    }

    function setApprovalForAll(address operator, bool approved) external {
        require(operator != msg.sender, "cannot approve yourself");
        _operatorApprovals[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    // ------------------------------------------------------------------ roles

    function registerDealer(address account, uint8 tokenTypeId) external onlyAdmin {
        require(_isValidTokenType(tokenTypeId), "invalid token type");
        _grantRole(_dealerRole(tokenTypeId), account);
        _grantRole(REGISTERED_DEALER, account);
    }

    function unregisterDealer(address account, uint8 tokenTypeId) external onlyAdmin {
        require(_isValidTokenType(tokenTypeId), "invalid token type");
        require(hasRole(_dealerRole(tokenTypeId), account), "account is not a dealer of that type");
        _revokeRole(_dealerRole(tokenTypeId), account);
        if (
            !hasRole(REGISTERED_REC_DEALER, account) &&
            !hasRole(REGISTERED_OFFSET_DEALER, account) &&
            !hasRole(REGISTERED_EMISSIONS_AUDITOR, account)
        ) {
            _revokeRole(REGISTERED_DEALER, account);
        }
    }

    function registerConsumer(address account) external onlyDealerOrAdmin {
        _grantRole(REGISTERED_CONSUMER, account);
    }

    function unregisterConsumer(address account) external onlyDealerOrAdmin {
        require(hasRole(REGISTERED_CONSUMER, account), "account is not a consumer");
        _revokeRole(REGISTERED_CONSUMER, account);
    }

    // ------------------------------------------------------------------ views

    function hasRole(bytes32 role, address account) public view returns (bool) {
        return _roles[role][account];
    }

    /// Roles of an account: admin, REC dealer, offset dealer, emissions auditor,
    /// consumer, and generic dealer (any type).
    function getRoles(address account) external view returns (bool[6] memory roles) {
        roles[0] = hasRole(DEFAULT_ADMIN_ROLE, account);
        roles[1] = hasRole(REGISTERED_REC_DEALER, account);
        roles[2] = hasRole(REGISTERED_OFFSET_DEALER, account);
        roles[3] = hasRole(REGISTERED_EMISSIONS_AUDITOR, account);
        roles[4] = hasRole(REGISTERED_CONSUMER, account);
        roles[5] = hasRole(REGISTERED_DEALER, account);
    }

    function isDealerRegistered(address account) public view returns (bool) {
        return hasRole(REGISTERED_DEALER, account);
    }

    function isConsumerRegistered(address account) public view returns (bool) {
        return hasRole(REGISTERED_CONSUMER, account);
    }

    function getNumOfUniqueTokens() external view returns (uint256) {
        return _numOfUniqueTokens;
    }

    function getTokenDetails(uint256 tokenId) external view returns (CarbonTokenDetails memory) {
        require(_exists(tokenId), "token does not exist");
        return _tokenDetails[tokenId];
    }

    function getTokenTypeId(uint256 tokenId) external view returns (uint8) {
        require(_exists(tokenId), "token does not exist");
        return _tokenDetails[tokenId].tokenTypeId;
    }

    function getAvailableAndRetired(
        address account,
        uint256 tokenId
    ) external view returns (uint256 available, uint256 retired) {
        return (_balances[tokenId][account], _retiredBalances[tokenId][account]);
    }

    function getTokenRetiredAmount(address account, uint256 tokenId) external view returns (uint256) {
        return _retiredBalances[tokenId][account];
    }

    function balanceOf(address account, uint256 id) public view returns (uint256) {
        require(account != address(0), "balance query for the zero address");
        return _balances[id][account];
    }

    function balanceOfBatch(
        address[] calldata accounts,
        uint256[] calldata ids
    ) external view returns (uint256[] memory balances) {
        require(accounts.length == ids.length, "accounts and ids length mismatch");
        balances = new uint256[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            balances[i] = balanceOf(accounts[i], ids[i]);
        }
    }

    function isApprovedForAll(address account, address operator) external view returns (bool) {
        return _operatorApprovals[account][operator];
    }

    function uri(uint256) external pure returns (string memory) {
        return "";
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return
            interfaceId == 0xd9b67a26 || // ERC-1155
            interfaceId == 0x0e89341c || // ERC-1155 metadata URI
            interfaceId == 0x01ffc9a7; // ERC-165
    }

    // ---------------------------------------------------------------- private

    function _exists(uint256 tokenId) private view returns (bool) {
        return tokenId > 0 && tokenId <= _numOfUniqueTokens;
    }

    function _isValidTokenType(uint8 tokenTypeId) private pure returns (bool) {
        return tokenTypeId >= TOKEN_TYPE_REC && tokenTypeId <= TOKEN_TYPE_AUDITED_EMISSIONS;
    }

    function _dealerRole(uint8 tokenTypeId) private pure returns (bytes32) {
        if (tokenTypeId == TOKEN_TYPE_REC) return REGISTERED_REC_DEALER;
        if (tokenTypeId == TOKEN_TYPE_OFFSET) return REGISTERED_OFFSET_DEALER;
        return REGISTERED_EMISSIONS_AUDITOR;
    }

    function _dealerRevertReason(uint8 tokenTypeId) private pure returns (string memory) {
        if (tokenTypeId == TOKEN_TYPE_REC) return "caller is not a REC dealer";
        if (tokenTypeId == TOKEN_TYPE_OFFSET) return "caller is not an offset dealer";
        return "caller is not an emissions auditor";
    }

    function _checkTransfer(address from, address to, uint256 tokenId, uint256 amount) private view {
        require(_exists(tokenId), "token does not exist");
        require(amount > 0, "amount must be positive");
        require(
            _tokenDetails[tokenId].tokenTypeId != TOKEN_TYPE_AUDITED_EMISSIONS,
            "audited emissions tokens are not transferable"
        );
        require(to != from, "cannot transfer to yourself");
        require(
            isConsumerRegistered(to) || isDealerRegistered(to),
            "recipient is not a registered consumer or dealer"
        );
        require(_balances[tokenId][from] >= amount, "not enough available balance");
    }

    function _move(address from, address to, uint256 tokenId, uint256 amount) private {
        _balances[tokenId][from] -= amount;
        _balances[tokenId][to] += amount;
    }

    function _retire(address account, uint256 tokenId, uint256 amount) private {
        _balances[tokenId][account] -= amount;
        _retiredBalances[tokenId][account] += amount;
        emit TransferSingle(msg.sender, account, address(0), tokenId, amount);
        emit TokenRetired(account, tokenId, amount);
    }

    function _checkReceiver(
        address operator,
        address from,
        address to,
        uint256 id,
        uint256 amount,
        bytes memory data
    ) private {
        if (to.code.length == 0) return;
        try IERC1155Receiver(to).onERC1155Received(operator, from, id, amount, data) returns (
            bytes4 answer
        ) {
            require(
                answer == IERC1155Receiver.onERC1155Received.selector,
                "recipient rejected the tokens"
            );
        } catch {
            revert("recipient is not an ERC1155 receiver");
        }
    }

    function _grantRole(bytes32 role, address account) private {
        if (_roles[role][account]) return;
        _roles[role][account] = true;
        emit RoleGranted(role, account, msg.sender);
    }

    function _revokeRole(bytes32 role, address account) private {
        if (!_roles[role][account]) return;
        _roles[role][account] = false;
        emit RoleRevoked(role, account, msg.sender);
    }
}

interface IERC1155Receiver {
    function onERC1155Received(
        address operator,
        address from,
        uint256 id,
        uint256 value,
        bytes calldata data
    ) external returns (bytes4);

    function onERC1155BatchReceived(
        address operator,
        address from,
        uint256[] calldata ids,
        uint256[] calldata values,
        bytes calldata data
    ) external returns (bytes4);
}
